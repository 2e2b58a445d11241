"""Where a run's local files go, and how a whole run is judged (shared by the CLI and the DAGs)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from include.perfpipe.errors import ConfigError
from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.vocabulary import REPORTS_DIR_ENV

_OUTSIDE_FOLDER_NAME = re.compile(r"[^A-Za-z0-9._-]|^\.")


def folder_name(name: str) -> str:
    """A dag id or run id as one folder name, the same for publishing, the reports page and the run tab.

    One-to-one (``a:b`` and ``a+b`` stay apart) and never ``.``, ``..`` or a path: each character outside
    ``[A-Za-z0-9._-]``, and a leading dot, becomes ``~XX`` per UTF-8 byte (``~`` itself too, so it decodes
    back). ``~`` is unreserved in URLs, so a folder name is also its own URL path segment.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"run folder: expected a non-empty dag or run id, got {name!r}")
    return _OUTSIDE_FOLDER_NAME.sub(lambda found: "".join(f"~{byte:02X}" for byte in found.group().encode()), name)


def run_dir(dag_id: str, run_id: str) -> Path:
    """``$PERFPIPE_REPORTS_DIR/<dag folder>/<run folder>`` (default ``reports/``; ``folder_name`` of
    each), created if missing."""
    path = Path(os.environ.get(REPORTS_DIR_ENV, "reports")) / folder_name(dag_id) / folder_name(run_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def judge_run(run: dict, load: dict, benchmark: dict | None, overrides: dict | None, out_dir: Path) -> dict:
    """Validate a merged load result (and an optional DB benchmark) with the GX threshold suites."""
    from include.perfpipe.validation import load_thresholds, validate
    from include.perfpipe.validation.metric_thresholds import metrics_of

    thresholds = load_thresholds(overrides=overrides, profile=run["profile"], target=run["target"])
    recorder = MetricsRecorder.from_dict(load["metrics"])
    db_stats, health = None, load["health"]
    if benchmark:
        db_stats = MetricsRecorder.from_dict(benchmark["metrics"]).stats_frame(benchmark["duration_s"])
        bench_health = benchmark["health"]
        health = {
            **health,
            "notes": [*health.get("notes", []), *(f"DB benchmark: {n}" for n in bench_health.get("notes", []))],
        }
        if bench_health["saturated"]:  # a starved benchmark client invalidates its numbers too
            health = {
                **health,
                "saturated": True,
                "reasons": [*health["reasons"], *(f"DB benchmark: {r}" for r in bench_health["reasons"])],
            }
    result = validate(
        recorder.stats_frame(load["duration_s"]),
        recorder.timeseries_frame(),
        thresholds=thresholds,
        stages=load["stages"],
        health=health,
        run_dir=out_dir,
        recorder=recorder,
        aborted=load["aborted"],
        abort_reason=load["abort_reason"],
        db_stats=db_stats,
        custom_metrics=metrics_of(load),
    )
    return result.to_dict()
