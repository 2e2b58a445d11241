"""How often the nightly regression verdict is right, on labelled histories: perfpipe against Apache Otava 0.8.0.

    .venv/bin/python -m benchmarks.regression_accuracy [--histories 60] [--seed 28] [--jobs 2]

A labelled set is generated from ``--seed`` (issue 28): 60 nightly histories of 30-60 ``load`` runs, 20 with no
change but one or two outlier nights (+20-50 %) among the last 12, 20 with one step of +5 to +40 % in the api
class, 10 with a gradual drift (+15-40 % over 8-16 nights) and 10 with an improvement (-10 to -40 %), run-to-run
noise of 3, 5, 7 or 9 %. Every night is a full ``LoadResult`` (a ``MetricsRecorder`` with per-second
histograms, 20 s at 50 requests/s to each of two endpoints, api and health) saved through ``ResultsStore``
into a scratch database on ``--results-db``'s server. The nights before the last 12 are saved as passing
runs; each of the last 12 goes through ``regression.analysis.record_run`` (what the publish task does: judge,
then store with the gate's outcome and ``fail_on_regression``) and its answer is the section ``analyse_run``
returns; after the last night the ``regression`` CLI is asked in-process and must give the same section.

Otava (E-Divisive with a t-test, ``compute_change_points`` at its defaults) runs in its own venv under
``--otava-venv`` (installed on first use), on the p95 of every class and the total over the last 21 runs after
each night, and flags a history where it finds an upward change point. A flag is a hit when its change starts
within 2 runs of the true step (for a drift: from 2 runs before its start to the end). FPR is the share of
no-change histories flagged; delay is runs from the step to the first night flagged at the right place.

``--replay`` is for trying a change to the gate: each night's class stats (what the store's class history
returns for it) are computed in-process and kept in ``--cache-dir`` with Otava's answers, once per seed; then
every asked night is judged by ``history_gate`` alone over the same 30 earlier runs, with the statuses it gave
before as the store keeps them. No PostgreSQL, store, baseline comparison or CLI: the 60 histories in about a
minute once cached, the same answers as the full run while the gate knows the noise (it does after 17 runs, and
every asked night has 18 or more). The published figures come from the full run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

OTAVA_VERSION = "0.8.0"
ASKED = 12  # the question is asked after each of the last 12 nights
OTAVA_WINDOW = 21
HIT_WITHIN = 2
DAG, PROFILE = "perf_regression_nightly", "load"
SECONDS, PER_SECOND = 20, 50  # the p95 of 1,000 api requests adds about 2 % of sampling noise to each night's
ENDPOINTS = {"items": ("api", 0.020), "health": ("health", 0.002)}
SPEC = {
    "model": "closed",
    "stages": [{"duration_s": SECONDS, "target": 10}],
    "endpoints": [{"name": n, "class_name": c} for n, (c, _) in ENDPOINTS.items()],
}
NOISES = (3.0, 5.0, 7.0, 9.0)


def make_histories(seed: int, count: int = 60) -> list[dict]:
    """The labelled set: per history its kind, noise, size, the api and night factors of every night, the truth."""
    rng = np.random.default_rng(seed)
    plan = (
        [("none", 0.0)] * 20
        + [("step", s) for s in np.linspace(5, 40, 20)]
        + [("drift", d) for d in np.linspace(15, 40, 10)]
        + [("improvement", d) for d in np.linspace(10, 40, 10)]
    )
    histories = []
    for index, (kind, size) in enumerate(plan):
        nights = int(rng.integers(30, 61))
        noise = NOISES[index % len(NOISES)]
        night = np.exp(rng.normal(0.0, np.log1p(noise / 100), nights))  # the host's night, every endpoint
        api = np.ones(nights)
        start, end, outliers = None, None, []
        if kind == "none":
            picks = rng.choice(np.arange(nights - ASKED, nights), size=int(rng.integers(1, 3)), replace=False)
            if len(picks) == 2 and abs(picks[0] - picks[1]) < 3:  # two outlier nights, never back to back
                picks = picks[:1]
            outliers = sorted(int(p) for p in picks)
            for p in outliers:
                night[p] *= 1 + rng.uniform(0.20, 0.50)
        elif kind in ("step", "improvement"):
            start = int(rng.integers(nights - ASKED, nights - 3))
            api[start:] = 1 + size / 100 if kind == "step" else 1 - size / 100
        else:
            length = int(rng.integers(8, 17))
            start, end = nights - length, nights - 1
            api[start:] = 1 + size / 100 * np.arange(1, length + 1) / length
        histories.append(
            {
                "index": index,
                "kind": kind,
                "size": round(float(size), 1),
                "noise": noise,
                "nights": nights,
                "start": start,
                "end": end,
                "outliers": outliers,
                "night": night.tolist(),
                "api": api.tolist(),
                "seed": [seed, index],
            }
        )
    return _subset(histories, count)


def _subset(histories: list[dict], count: int) -> list[dict]:
    """``count`` histories in the set's proportions (every kind, sizes spread), all 60 by default."""
    if count >= len(histories):
        return histories
    kept = []
    for kind in ("none", "step", "drift", "improvement"):
        group = [h for h in histories if h["kind"] == kind]
        take = max(1, round(count * len(group) / len(histories)))
        kept += [group[int(i)] for i in np.linspace(0, len(group) - 1, take).round()]
    return kept


def night_result(history: dict, night: int) -> dict:
    """The ``LoadResult`` dict of one night: latencies log-normal around each endpoint's median, scaled."""
    from include.perfpipe.metrics import MetricsRecorder

    rng = np.random.default_rng([*history["seed"], night])
    recorder = MetricsRecorder()
    for second in range(SECONDS):
        recorder.set_active_vus(second, 10)
        for name, (class_name, median_s) in ENDPOINTS.items():
            scale = history["night"][night] * (history["api"][night] if class_name == "api" else 1.0)
            n = int(rng.poisson(PER_SECOND))
            latencies = median_s * scale * rng.lognormal(0.0, 0.35, n)
            for latency, at in zip(latencies, second + rng.random(n), strict=True):
                recorder.record(name, class_name, float(latency), True, 200, float(at))
    return {
        "spec": SPEC,
        "metrics": recorder.to_dict(),
        "duration_s": float(SECONDS),
        "stages": [{"start_s": 0, "end_s": SECONDS, "kind": "hold"}],
    }


def play(history: dict, dsn: str) -> dict:
    """Save one history night by night; the answers after each of the last ``ASKED`` nights."""
    from include.perfpipe.cli import main as cli
    from include.perfpipe.regression.analysis import record_run
    from include.perfpipe.regression.baseline import shape_of
    from include.perfpipe.store import ResultsStore

    store, target = ResultsStore(dsn), f"http://history-{history['index']:02d}.test"
    first = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
    answers, p95 = [], []
    for night in range(history["nights"]):
        run = {
            "dag_id": DAG,
            "run_id": f"h{history['index']:02d}_night{night:03d}",  # run ids are unique per DAG, not per target
            "profile": PROFILE,
            "target": target,
            "started_at": (first + timedelta(days=night)).isoformat(),
        }
        bundle = {"run": run, "loadtest": night_result(history, night)}
        if night < history["nights"] - ASKED:
            store.save_bundle(bundle, "pass", "thresholds met", shape=shape_of(bundle["loadtest"]))
            continue
        section = record_run(store, bundle, "pass", "thresholds met", fail_on_regression=True)["regression"]
        answers.append(_answer(night, section["gate"], section["shifts"]))
        p95.append(_p95_window(store, target, run))
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "section.json"
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            try:
                cli(["regression", "--target", target, "--profile", PROFILE, "--results-db", dsn, "--out", str(out)])
            finally:
                sys.stdout = stdout
        same = json.loads(out.read_text()) == json.loads(json.dumps(section, allow_nan=False))
    noise = (section.get("noise") or {}).get("headline")
    return {**_label(history), "answers": answers, "p95": p95, "cli_same": same, "fingerprint": noise}


def _answer(night: int, gate: dict, shifts: list[dict]) -> dict:
    regressions = [s for s in shifts if s["status"] == "regression"]
    since = sorted({_night(s["since_run_id"]) for s in regressions})
    return {"night": night, "status": gate["status"], "since": since, "reason": gate["reason"]}


def night_stats(history: dict, night: int) -> dict:
    """``{class_name: {metric: value}}`` of one night, the total as ``all``: what the store's class history holds."""
    from include.perfpipe.regression.frames import run_frames
    from include.perfpipe.regression.section import TREND_METRICS

    stats = run_frames(night_result(history, night))["stats"]
    rows = stats[stats["scope"].isin(["class", "total"])]
    return {row["class_name"]: {m: float(row[m]) for m in TREND_METRICS} for row in rows.to_dict("records")}


def history_stats(history: dict) -> list[dict]:
    return [night_stats(history, night) for night in range(history["nights"])]


def replay(history: dict, nights: list[dict]) -> dict:
    """``play`` without the store: each asked night judged by ``history_gate`` over the same earlier runs and
    series as ``analyse_run`` reads, each night's status kept for the next as the store keeps it."""
    from include.perfpipe.regression.analysis import HISTORY_RUNS
    from include.perfpipe.regression.history_gate import history_gate
    from include.perfpipe.regression.section import TREND_METRICS

    runs = [{"run_id": f"night{n:03d}", "regression": None} for n in range(history["nights"])]
    classes = sorted(nights[0])
    answers, p95 = [], []
    for night in range(history["nights"] - ASKED, history["nights"]):
        window = range(max(0, night - HISTORY_RUNS), night + 1)
        series = {(m, k): np.array([nights[i][k][m] for i in window]) for m in TREND_METRICS for k in classes}
        gate = history_gate([runs[i] for i in window], series)
        runs[night]["regression"] = gate["status"]
        answers.append(_answer(night, gate, gate["shifts"]))
        shown = range(max(0, night + 1 - OTAVA_WINDOW), night + 1)
        p95.append({"runs": list(shown), "series": {k: [nights[i][k]["p95_ms"] for i in shown] for k in classes}})
    return {**_label(history), "answers": answers, "p95": p95}


def replayed(histories: list[dict], args) -> list[dict]:
    """Every history replayed from the stats cached in ``args.cache_dir`` (made on first use), with Otava's
    answers (cached too: they do not depend on perfpipe's)."""
    cache = Path(args.cache_dir) / f"regression-accuracy-seed{args.seed}.json"
    cached = json.loads(cache.read_text()) if cache.exists() else {"stats": {}, "otava": {}}
    missing = [h for h in histories if str(h["index"]) not in cached["stats"]]
    with ProcessPoolExecutor(args.jobs) as pool:
        for history, nights in zip(missing, pool.map(history_stats, missing), strict=True):
            cached["stats"][str(history["index"])] = nights
    results = [replay(h, cached["stats"][str(h["index"])]) for h in histories]
    unasked = [r for r in results if str(r["index"]) not in cached["otava"]]
    if unasked:
        otava_answers(unasked, Path(args.otava_venv))
        cached["otava"].update({str(r["index"]): r["otava"] for r in unasked})
    for result in results:
        result["otava"] = cached["otava"][str(result["index"])]
    unknown = sum(a["status"] == "unknown" for r in results for a in r["answers"])
    if unknown:  # the full run would have asked the within-run comparison, which the replay leaves out
        print(f"{unknown} asked night(s) with the noise unknown: replayed as unknown", file=sys.stderr)
    if missing or unasked:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(cached))
    return results


def _p95_window(store, target: str, run: dict) -> dict:
    """The p95 of every class and the total over the last ``OTAVA_WINDOW`` runs up to ``run`` (Otava's input)."""
    rows = store.class_history(target, PROFILE, limit=OTAVA_WINDOW)
    runs = list(dict.fromkeys(rows["run_id"]))
    return {
        "runs": [_night(r) for r in runs],
        "series": {k: g.set_index("run_id").loc[runs, "p95_ms"].tolist() for k, g in rows.groupby("class_name")},
    }


def _night(run_id: str) -> int:
    return int(run_id.rsplit("night", 1)[1])


def _label(history: dict) -> dict:
    return {k: history[k] for k in ("index", "kind", "size", "noise", "nights", "start", "end", "outliers")}


def otava_answers(results: list[dict], venv: Path) -> None:
    """Add Otava's answers (``otava``: per asked night, the starts of upward change points) to ``results``."""
    python = ensure_otava(venv)
    jobs = [window for result in results for window in result["p95"]]
    series = [values for window in jobs for values in window["series"].values()]
    found = json.loads(
        subprocess.run(
            [str(python), "-c", _OTAVA_SCRIPT], input=json.dumps(series), capture_output=True, text=True, check=True
        ).stdout
    )
    cursor = 0
    for result in results:
        result["otava"] = []
        for window, answer in zip(result["p95"], result["answers"], strict=True):
            starts = set()
            for _ in window["series"]:
                starts |= {window["runs"][i] for i in found[cursor]}
                cursor += 1
            result["otava"].append({"night": answer["night"], "since": sorted(starts)})


_OTAVA_SCRIPT = """
import json, sys
from otava.analysis import compute_change_points
out = []
for values in json.load(sys.stdin):
    points, _ = compute_change_points(values)  # its defaults: window_len 50, max_pvalue 0.001
    out.append([int(cp.index) for cp in points if cp.stats.mean_2 > cp.stats.mean_1])
print(json.dumps(out))
"""


def ensure_otava(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing apache-otava=={OTAVA_VERSION} into {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"apache-otava=={OTAVA_VERSION}"], check=True)
    return python


def score(results: list[dict], key: str) -> dict:
    """Precision, recall, F1, FPR on the last night's answer; nightly FPR; improvements flagged; delays."""
    tp = fp = fn = 0
    delays, flagged_none, flagged_improvement = [], 0, 0
    none_nights = none_flags = 0
    for r in results:
        answers = r[key] if key == "otava" else [{"night": a["night"], "since": a["since"]} for a in r["answers"]]
        flags = [a for a in answers if a["since"]]
        last = answers[-1]
        positive = r["kind"] in ("step", "drift")
        if r["kind"] == "none":
            none_nights += len(answers)
            none_flags += len(flags)
            flagged_none += bool(last["since"])
        if r["kind"] == "improvement":
            flagged_improvement += bool(flags)
        if positive:
            if _hit(last, r):
                tp += 1
                first = next(a["night"] for a in answers if _hit(a, r))
                delays.append(first - r["start"])
            else:
                fn += 1
                fp += bool(last["since"])  # flagged at the wrong place
        elif last["since"]:
            fp += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    nones = sum(r["kind"] == "none" for r in results)
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "fpr": flagged_none / nones if nones else 0.0,
        "nightly_fpr": none_flags / none_nights if none_nights else 0.0,
        "improvements_flagged": flagged_improvement,
        "delay_mean": float(np.mean(delays)) if delays else float("nan"),
        "delay_max": max(delays) if delays else None,
    }


def _hit(answer: dict, result: dict) -> bool:
    start = result["start"]
    end = result["end"] if result["end"] is not None else start
    return any(start - HIT_WITHIN <= s <= end + HIT_WITHIN for s in answer["since"])


def scratch_database(server: str) -> tuple[str, callable]:
    import psycopg
    from psycopg import sql

    name = f"regression_accuracy_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    return urlsplit(server)._replace(path=f"/{name}").geturl(), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--histories", type=int, default=60, help="how many of the 60 histories (default all)")
    parser.add_argument("--seed", type=int, default=28)
    parser.add_argument("--jobs", type=int, default=2, help="histories played at once (default 2)")
    parser.add_argument(
        "--results-db",
        default=os.environ.get("PERFPIPE_DB_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server (a scratch database is created on it and dropped)",
    )
    parser.add_argument("--otava-venv", default=os.path.join(tempfile.gettempdir(), "perfpipe-bench", "otava-venv"))
    parser.add_argument("--json", help="write every answer here")
    parser.add_argument(
        "--replay", action="store_true", help="judge with history_gate alone from cached nightly stats (see above)"
    )
    parser.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "perfpipe-bench"))
    args = parser.parse_args()
    histories = make_histories(args.seed, args.histories)
    if args.replay:
        started = time.perf_counter()
        results = replayed(histories, args)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
        _print(results, args, time.perf_counter() - started)
        return
    dsn, drop = scratch_database(args.results_db)
    started = time.perf_counter()
    try:
        from include.perfpipe.store import ResultsStore

        ResultsStore(dsn).migrate()
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(play, histories, [dsn] * len(histories)))
    finally:
        drop()
    played = time.perf_counter() - started
    if args.json:  # perfpipe's answers first: Otava runs in another interpreter
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    otava_answers(results, Path(args.otava_venv))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    _print(results, args, played)


def _print(results: list[dict], args, played: float) -> None:
    how = (
        "replayed from cached stats (history_gate alone)"
        if args.replay
        else f"CLI answer equal to the publish answer: {sum(r['cli_same'] for r in results)}/{len(results)}"
    )
    print(
        f"{len(results)} histories (seed {args.seed}), {sum(r['nights'] for r in results)} nights, "
        f"played in {played:.0f} s; {how}"
    )
    print(
        "\n| last run's answer | precision | recall | F1 | FPR | nightly FPR | improvements flagged | delay mean, max |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, key in (("perfpipe (noise-aware gate)", "perfpipe"), (f"Otava {OTAVA_VERSION}, last 21 runs", "otava")):
        s = score(results, key)
        print(
            f"| {name} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} | {s['fpr']:.2f} | "
            f"{s['nightly_fpr']:.3f} | {s['improvements_flagged']} | {s['delay_mean']:.1f}, {s['delay_max']} |"
        )
    print("\n| kind | size % | noise % | perfpipe found (delay) | Otava found (delay) | perfpipe last answer |")
    print("|---|---|---|---|---|---|")
    for r in results:
        if r["kind"] == "none":
            continue
        print(
            f"| {r['kind']} | {-r['size'] if r['kind'] == 'improvement' else r['size']:+.1f} | {r['noise']:.0f} | "
            f"{_found(r, 'perfpipe')} | {_found(r, 'otava')} | "
            f"{r['answers'][-1]['status']} |"
        )
    outliers = [r for r in results if r["kind"] == "none"]
    print(
        "\nno-change histories: last answers "
        + ", ".join(f"{s}: {sum(r['answers'][-1]['status'] == s for r in outliers)}" for s in _statuses(outliers))
    )


def _statuses(results: list[dict]) -> list[str]:
    return sorted({r["answers"][-1]["status"] for r in results})


def _found(result: dict, key: str) -> str:
    answers = result[key] if key == "otava" else result["answers"]
    hits = [a["night"] for a in answers if _hit(a, result)]
    if result["kind"] == "improvement":
        return "flagged" if any(a["since"] for a in answers) else "-"
    if not _hit(answers[-1], result):
        return "missed"
    return f"yes ({hits[0] - result['start']})"


if __name__ == "__main__":
    main()
