"""The regression gate over a run's history: every (metric, class) series judged by ``noise.judge_series``, and each
class's latency against the other classes' (``contrast``), summed up as one status, a reason a person can act on,
and the history's noise fingerprint."""

from __future__ import annotations

import numpy as np

from include.perfpipe.metrics import ALL
from include.perfpipe.regression.compare import HIGHER_IS_BETTER
from include.perfpipe.regression.contrast import AGAINST, contrast_verdicts, ratio_noise
from include.perfpipe.regression.noise import SeriesVerdict, detectable, judge_series, runs_needed

ERROR_RATE_MIN_POINTS = 1.0  # an error rate must move by a point (1 %) at least


def history_gate(runs: list[dict], series: dict, min_change_pct: float = 5.0) -> dict:
    """``{"status", "regressed", "reason", "shifts", "noise"}`` of the last of ``runs`` (oldest first, each with
    ``run_id``, optional ``regression``, the gate's stored outcome, and ``is_baseline``); ``series``:
    ``{(metric, class_name): values aligned with runs}``. ``status`` is ``unknown`` while fewer than
    ``noise.runs_needed()`` comparable runs precede it."""
    reference_ok = np.array([run.get("regression") != "regression" for run in runs], dtype=bool)
    marked = [i for i, run in enumerate(runs[:-1]) if run.get("is_baseline")]
    if marked:  # the marked baseline is the new normal: nothing before it is a reference
        reference_ok[: marked[-1]] = False
    verdicts = {
        key: judge_series(
            values,
            reference_ok,
            higher_is_better=key[0] in HIGHER_IS_BETTER,
            log_scale=key[0] != "error_rate",
            min_change=ERROR_RATE_MIN_POINTS if key[0] == "error_rate" else min_change_pct,
        )
        for key, values in series.items()
    }
    known = {k: v for k, v in verdicts.items() if v.status != "unknown"}
    noise = _fingerprint(known, len(runs) - 1, ratio_noise(series))
    if not known:
        return {"status": "unknown", "regressed": False, "reason": None, "shifts": [], "noise": noise}
    deciding = _deciding(known)
    shifts = [
        _shift(key, v, runs) for key, v in deciding.items() if v.status in ("regression", "improvement", "outlier")
    ]
    contrasts = contrast_verdicts(series, reference_ok, min_change_pct)
    shifts += [_shift(key, v, runs, against=AGAINST) for key, v in contrasts.items()]
    shifts.sort(key=lambda s: (_rank(s), s["metric"] != "p95_ms", -abs(s["score"])))  # p95 first: users read it
    status = shifts[0]["status"] if shifts else "unchanged"
    return {
        "status": status,
        "regressed": status == "regression",
        "reason": _reason(status, shifts, noise),
        "shifts": shifts,
        "noise": noise,
    }


def _deciding(known: dict) -> dict:
    """The series whose shifts make the run's status: every class's, and the total only for a single class.
    The total of several classes is a mixture, whose percentiles move with the mix as much as with latency:
    the total p50 of a 20 ms and a 2 ms class of equal rates falls between the two and jumps with whichever
    had more requests that night (noise ±44 %, measured), and a shift in it is a false alarm or is already
    one class's shift. It stays in the fingerprint."""
    classes = {class_name for _, class_name in known if class_name != ALL}
    return {key: v for key, v in known.items() if key[1] != ALL or len(classes) <= 1}


def _rank(shift: dict) -> int:
    """Which shift names the run's status: a regression, else a worse outlier, an improvement, a better outlier."""
    if shift["status"] == "outlier":
        return 1 if shift["worse"] else 3
    return 0 if shift["status"] == "regression" else 2


def _shift(key: tuple[str, str], verdict: SeriesVerdict, runs: list[dict], against: str | None = None) -> dict:
    metric, class_name = key
    return {
        "status": verdict.status,
        "metric": metric,
        "class_name": class_name,
        "against": against,  # None: the class's own series; else judged against these (contrast.py)
        "since_index": verdict.since,
        "since_run_id": runs[verdict.since]["run_id"],
        "runs": len(runs) - verdict.since,
        "change": round(verdict.change, 2),
        "unit": "points" if metric == "error_rate" else "%",
        "noise": round(_noise(metric, verdict), 2),
        "score": round(verdict.score, 2),
        "worse": verdict.worse,
    }


def _fingerprint(known: dict, earlier_runs: int, ratio: float | None = None) -> dict:
    """Per series: its noise and the smallest change two runs in a row must show, and a headline for p95 (with
    ``ratio``, the noise of one class's p95 against the other classes', in which a change of one class shows)."""
    rows = [
        {
            "metric": metric,
            "class_name": class_name,
            "noise": round(_noise(metric, v), 2),
            "detectable": round(detectable(v.sigma, v.reference_runs, metric != "error_rate"), 2),
            "unit": "points" if metric == "error_rate" else "%",
            "reference_runs": v.reference_runs,
        }
        for (metric, class_name), v in known.items()
    ]
    p95 = next((r for r in rows if r["metric"] == "p95_ms" and r["class_name"] == ALL), None)
    headline = (
        f"this target's p95 varies ±{p95['noise']:.1f} % night to night ({p95['reference_runs']} runs); changes "
        f"under {p95['detectable']:.0f} % cannot be told apart from it within two nights"
        if p95
        else f"the noise is not known yet: {earlier_runs} earlier comparable run(s), {runs_needed()} needed"
    )
    if p95 and ratio is not None:
        headline += f"; a class's p95 against the other classes' varies ±{ratio:.1f} %, where one class's change shows"
    return {"headline": headline, "series": rows}


def _noise(metric: str, verdict: SeriesVerdict) -> float:
    return verdict.sigma * 100 if metric == "error_rate" else verdict.noise_pct


def _reason(status: str, shifts: list[dict], noise: dict) -> str:
    if status == "unchanged":
        return f"no change beyond the run-to-run noise: {noise['headline']}"
    shown = [s for s in shifts if s["status"] == status][:5]
    listed = "; ".join(
        f"{'total' if s['class_name'] == ALL else s['class_name']} {s['metric']} {s['change']:+.1f} {s['unit']}"
        + (f" since {s['since_run_id']} ({s['runs']} runs)" if status != "outlier" else "")
        + (f", noise ±{s['noise']:.1f} {s['unit']}" if s["against"] is None else "")
        + (f", against {s['against']} (noise ±{s['noise']:.1f} {s['unit']})" if s["against"] else "")
        for s in shown
    )
    if status == "outlier":
        return (
            f"outlier: this run alone is off its history ({listed}); "
            "one night is not a regression until the next runs confirm it"
        )
    return f"{status}: {listed}"
