"""``judge_run``: the last step of every run: its frames validated against the GX threshold suites, one verdict."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from include.perfpipe.loadtest.result import LoadResult
    from include.perfpipe.validation.result import ValidationResult
    from include.perfpipe.validation.thresholds import Thresholds


def judge_run(
    load: LoadResult, thresholds: Thresholds, out_dir: Path, *, benchmark: Mapping | None = None
) -> ValidationResult:
    """Validate a (merged) load result, and the DB benchmark's (``LoadResult.to_dict()``) when one ran:
    a starved benchmark client makes the run invalid too; a k6 run's own thresholds join the verdict
    (``k6.summary.judge_k6``, which also writes ``k6-summary.json``). Writes ``out_dir/validation.json`` and
    Data Docs."""
    from include.perfpipe.metrics import MetricsRecorder
    from include.perfpipe.validation import validate
    from include.perfpipe.validation.metric_thresholds import metric_rules

    db_stats, health = None, load.health
    if benchmark:
        db_stats = MetricsRecorder.from_dict(benchmark["metrics"]).stats_frame(benchmark["duration_s"])
        health = _with_benchmark_health(health, benchmark["health"])
    validation = validate(
        load.stats_frame(),
        load.timeseries_frame(),
        thresholds=thresholds,
        stages=load.stages,
        health=health,
        run_dir=out_dir,
        recorder=load.metrics,
        aborted=load.aborted,
        abort_reason=load.abort_reason,
        db_stats=db_stats,
        custom_metrics=(load.metrics_frame(), metric_rules(load.spec)),
    )
    if load.spec.get("k6"):  # k6's own thresholds and summary beside our suites
        from include.perfpipe.k6.summary import judge_k6

        validation = judge_k6(validation, load, out_dir)
    return validation


def judge_and_write(load: LoadResult, thresholds: Thresholds, out_dir: Path) -> tuple[ValidationResult, str]:
    """``judge_run``, then ``summary.json`` and ``timeseries.csv`` in ``out_dir``; with the CLIs' verdict line
    (reason, requests, req/s, p95, errors, the summary's path)."""
    validation = judge_run(load, thresholds, out_dir)
    path = load.write(out_dir, validation.to_dict())
    total = load.summary()["totals"]
    line = (
        f"{validation.reason} | {total.get('count', 0)} requests, {total.get('rps') or 0:.1f} req/s, "
        f"p95 {total.get('p95_ms')} ms, errors {total.get('errors', 0)} | {path}"
    )
    return validation, line


def judge_error(error: Exception, thresholds: Thresholds, out_dir: Path) -> ValidationResult:
    """The verdict of a run that could not run (bad input, target refused or unreachable): error, with why."""
    import pandas as pd

    from include.perfpipe.metrics import STATS_COLUMNS, TIMESERIES_COLUMNS
    from include.perfpipe.validation import validate

    return validate(
        pd.DataFrame(columns=STATS_COLUMNS),
        pd.DataFrame(columns=TIMESERIES_COLUMNS),
        thresholds=thresholds,
        stages=[],
        health={},
        run_dir=out_dir,
        error=f"{type(error).__name__}: {error}",
    )


def _with_benchmark_health(health: dict, bench: Mapping) -> dict:
    health = {**health, "notes": [*health.get("notes", []), *(f"DB benchmark: {n}" for n in bench.get("notes", []))]}
    if bench["saturated"]:  # a starved benchmark client invalidates its numbers too
        health.update(saturated=True, reasons=[*health["reasons"], *(f"DB benchmark: {r}" for r in bench["reasons"])])
    return health
