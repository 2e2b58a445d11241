"""``validate``: a run's frames against its thresholds, ending in one verdict with a reason.

Precedence: **error** (an explicit error, no requests, or no successful request with connection
errors) > **invalid** (the generator was saturated or dropped sends) > **fail** (a threshold
breached, or the run was aborted) > **pass**. A closed-model generator at full CPU
(``health.cpu_bound``) measured a floor of the target's req/s: a failed capacity check (``rps >``
or ``>=``) then says nothing and is the one check that makes the run invalid; any other breach
still fails it. Whenever there is data, the GX checkpoint runs and
Data Docs are built, so even an invalid run keeps its numbers. The result is saved to
``run_dir/validation.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from include.perfpipe.metrics import MetricsRecorder, overall
from include.perfpipe.validation.gx_checkpoint import plan_checks, plan_metric_checks, run_checkpoint
from include.perfpipe.validation.result import ValidationResult
from include.perfpipe.validation.selectors import parse_selector, selector_rows
from include.perfpipe.validation.thresholds import STEADY, WHOLE, Threshold, Thresholds
from include.perfpipe.validation.verdict import Verdict
from include.perfpipe.validation.windows import WINDOW_COLUMNS, check_stages, window_frame
from include.perfpipe.vocabulary import LOWER_BOUNDS

_SHOWN_BREACHES = 3


def validate(
    stats: pd.DataFrame,
    timeseries: pd.DataFrame,
    *,
    thresholds: Thresholds | dict,
    stages: list[dict],
    health: dict,
    run_dir: Path,
    recorder: MetricsRecorder | None = None,
    aborted: bool = False,
    abort_reason: str | None = None,
    error: str | None = None,
    db_stats: pd.DataFrame | None = None,
    custom_metrics: tuple[pd.DataFrame, list[Threshold]] | None = None,
) -> ValidationResult:
    """Validate one run; see the module docstring for the verdict rules. ``custom_metrics``: the run's
    ``metrics_frame`` and the thresholds its scenario sets on them (``metric_thresholds.metrics_of``)."""
    if isinstance(thresholds, dict):
        thresholds = Thresholds.from_dict(thresholds)
    if not isinstance(thresholds, Thresholds):
        raise ValueError(f"thresholds: expected Thresholds or its dict, got {type(thresholds).__name__}")
    check_stages(stages)
    saturated, dropped, reasons = _health(health, timeseries)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    windows = {w for rule in thresholds.rules for w in rule.windows}
    if isinstance(stats, pd.DataFrame) and stats.empty and db_stats is None:
        frame = pd.DataFrame(columns=WINDOW_COLUMNS)  # nothing was measured (e.g. the target was unreachable)
    else:
        frame = window_frame(stats, timeseries, windows=windows, stages=stages, recorder=recorder, db_stats=db_stats)
        frame = _with_selectors(frame, thresholds, recorder, stats)
    notes = [f"suite not applied: {s}" for s in thresholds.skipped_suites] + [str(n) for n in health.get("notes", [])]
    if recorder is None and any(w == STEADY or w.startswith("rolling_") for w in windows):
        notes.append("steady and rolling windows not checked: no recorder (its per-second histograms) was given")
    checks, missing = plan_checks(frame, thresholds)
    metrics = None
    if custom_metrics is not None:
        metrics, rules = custom_metrics
        metric_checks, missing_metrics = plan_metric_checks(metrics, rules)
        checks, missing = checks + metric_checks, missing + missing_metrics
    notes += missing
    result = ValidationResult(Verdict.PASS, "")
    gx_errors: list[str] = []
    if checks:
        result.results, result.data_docs, gx_errors = run_checkpoint(frame, checks, run_dir, metrics)

    failed = error or _unreachable(stats)
    if failed:
        result.verdict, result.reason = Verdict.ERROR, failed
    elif gx_errors:
        result.verdict, result.reason = Verdict.ERROR, "GX could not evaluate " + "; ".join(gx_errors)
    elif saturated or dropped:
        detail = "; ".join(reasons) or "the load generator was saturated"
        if dropped:
            detail += f"; {dropped} sends dropped"
        result.verdict = Verdict.INVALID
        result.reason = f"{detail}: the numbers say nothing about the target"
    else:
        breaches = result.results[~result.results["success"].astype(bool)]
        floors = breaches[_is_capacity(breaches)] if health.get("cpu_bound") else breaches.iloc[0:0]
        breaches = breaches.drop(floors.index)
        if len(floors):
            notes.append(
                "not judged: "
                + "; ".join(
                    f"{b.suite} {b.class_name} rps over {b.window}: {b.observed:g} (limit {b.operator} {b.threshold:g})"
                    for b in floors.itertuples()
                )
                + ", measured by a CPU-bound generator"
            )
        if len(floors) and not len(breaches) and not aborted:
            result.verdict = Verdict.INVALID
            result.reason = (
                f"{len(floors)} capacity check(s) failed while the generator was CPU-bound: req/s "
                "is the generator's ceiling, a floor of the target's; add processes or shards"
            )
        elif len(breaches) or aborted:
            result.verdict, result.reason = (
                Verdict.FAIL,
                _fail_reason(breaches, len(result.results), aborted, abort_reason),
            )
        else:
            result.reason = f"all {len(result.results)} checks met"
            if not checks:
                result.reason = "no threshold applies to this run"
    result.notes = notes
    result.save(run_dir)
    return result


def _with_selectors(frame: pd.DataFrame, thresholds: Thresholds, recorder, stats: pd.DataFrame) -> pd.DataFrame:
    """The frame plus one whole-run row per threshold selector (``{scenario: checkout, group: pay}``)."""
    labels = {rule.class_name for rule in thresholds.rules if parse_selector(rule.class_name) is not None}
    if not labels or recorder is None:
        return frame
    total = stats[stats["scope"] == "total"]
    duration = float(total["count"].iloc[0] / total["rps"].iloc[0]) if len(total) and total["rps"].iloc[0] else 0.0
    rows = selector_rows(labels, recorder, duration)
    if rows.empty:
        return frame
    rows["window"], rows["start_s"] = WHOLE, 0
    return pd.concat([frame, rows.reindex(columns=WINDOW_COLUMNS)], ignore_index=True)


def _health(health: dict, timeseries: pd.DataFrame) -> tuple[bool, int, list[str]]:
    if not isinstance(health, dict):
        raise ValueError(f"health: expected a dict with saturated, dropped, reasons, got {health!r}")
    saturated, dropped, reasons = health.get("saturated", False), health.get("dropped", 0), health.get("reasons", [])
    if not isinstance(saturated, bool):
        raise ValueError(f"health.saturated: expected true or false, got {saturated!r}")
    if isinstance(dropped, bool) or not isinstance(dropped, int) or dropped < 0:
        raise ValueError(f"health.dropped: expected a count >= 0, got {dropped!r}")
    if not isinstance(reasons, list):
        raise ValueError(f"health.reasons: expected a list of strings, got {reasons!r}")
    if isinstance(timeseries, pd.DataFrame) and "dropped" in timeseries.columns and len(timeseries):
        series = overall(timeseries)
        dropped = max(dropped, int(series.loc[series["class_name"] == "all", "dropped"].sum()))
    return saturated, dropped, [str(r) for r in reasons]


def _is_capacity(checks: pd.DataFrame) -> pd.Series:
    """Which checks ask for at least some throughput (``rps >`` or ``>=``)."""
    return (checks["metric"] == "rps") & checks["operator"].isin(LOWER_BOUNDS)


def _unreachable(stats: pd.DataFrame) -> str | None:
    """Why the target counts as unreachable: no requests, or none succeeded and some hit connection errors."""
    total = stats[stats["scope"] == "total"] if isinstance(stats, pd.DataFrame) and "scope" in stats else None
    if total is None or total.empty or int(total["count"].sum()) == 0:
        return "no requests were recorded"
    row = total.iloc[0]
    if int(row["count"]) > int(row["errors"]):
        return None
    statuses = json.loads(row["status_counts"]) if "status_counts" in total and row["status_counts"] else {}
    exceptions = {k: v for k, v in statuses.items() if not str(k).isdigit()}
    if not exceptions:
        return None  # every request failed with an HTTP status: the target answered, thresholds decide
    shown = ", ".join(f"{name} x{n}" for name, n in sorted(exceptions.items()))
    return f"no request succeeded ({shown}); the target or database looks unreachable"


def _fail_reason(breaches: pd.DataFrame, total: int, aborted: bool, abort_reason: str | None) -> str:
    parts = []
    if len(breaches):
        shown = [
            f"{b.suite} {b.class_name} {b.metric} over {b.window}: {b.observed:g} (limit {b.operator} {b.threshold:g})"
            for b in breaches.head(_SHOWN_BREACHES).itertuples()
        ]
        more = f" and {len(breaches) - _SHOWN_BREACHES} more" if len(breaches) > _SHOWN_BREACHES else ""
        parts.append(f"{len(breaches)} of {total} checks breached: " + "; ".join(shown) + more)
    if aborted:
        parts.append(f"the run was aborted: {abort_reason or 'no reason given'}")
    return ". ".join(parts)
