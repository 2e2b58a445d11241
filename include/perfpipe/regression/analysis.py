"""The regression section of one run, computed one way for the DAG's publish task and for the CLI.

The run is compared with ``baseline`` (the store's ``comparison`` picks it: same workload shape, marked
else last passing), and change points are searched per class over the stored runs of its target and
profile up to it (at most ``history_runs`` of them) followed by the run itself.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from include.perfpipe.regression.compare import compare_runs
from include.perfpipe.regression.frames import run_frames
from include.perfpipe.regression.section import TREND_METRICS, regression_section

HISTORY_RUNS = 20


def analyse_run(
    store,
    run: dict,
    current: dict,
    *,
    verdict: str,
    baseline: dict | None,
    history_runs: int = HISTORY_RUNS,
    alpha: float = 0.05,
    min_change_pct: float = 5.0,
    min_change_ms: float = 1.0,
) -> dict:
    """The report's regression section (docs/regression.md) of ``run`` against ``baseline``.

    ``run``: the run's identity (``dag_id``, ``run_id``, ``target``, ``profile``, ``started_at``,
    ``version``, optional ``is_baseline``). ``current``: its load test, a ``LoadResult`` dict or
    ``{"stats", "timeseries", "stages"}`` frames. ``store``: a ``ResultsStore``. Raises ValueError when the
    comparison cannot be made (e.g. no steady-state seconds); ``unavailable_section`` reports that instead.
    """
    frames = run_frames(current, "current")
    history = _history(store, run, frames["stats"], verdict, history_runs)
    base_frames = store.run_frames(baseline["dag_id"], baseline["run_id"]) if baseline else None
    comparison = None
    if base_frames is not None:
        comparison = compare_runs(
            base_frames, frames, alpha=alpha, min_change_pct=min_change_pct, min_change_ms=min_change_ms
        )
    return regression_section(comparison, history)


def unavailable_section(baseline_found: bool, why: Exception) -> dict:
    """The section of a run whose comparison could not be made, saying why in the gate reason."""
    return {
        "baseline_found": baseline_found,
        "comparison": [],
        "change_points": [],
        "trend": [],
        "gate": {"regressed": False, "reason": f"comparison not possible: {why}"},
    }


def _history(store, run: dict, stats: pd.DataFrame, verdict: str, history_runs: int) -> pd.DataFrame:
    """Per class (long), so a regression of one class shows even where the run's total hides it."""
    started_at = _timestamp(run.get("started_at"))
    rows = stats[stats["scope"].isin(["class", "total"])]
    current = pd.DataFrame(
        {
            "dag_id": run["dag_id"],
            "run_id": run["run_id"],
            "started_at": started_at,
            "version": run.get("version"),
            "verdict": verdict,
            "is_baseline": bool(run.get("is_baseline")),
            "class_name": rows["class_name"],
            **{m: rows[m] for m in TREND_METRICS},
        }
    )
    earlier = store.class_history(run["target"], run["profile"], limit=history_runs + 1, started_until=started_at)
    earlier = earlier[~((earlier["dag_id"] == run["dag_id"]) & (earlier["run_id"] == run["run_id"]))]
    kept = earlier.drop_duplicates(["dag_id", "run_id"]).tail(history_runs)[["dag_id", "run_id"]]
    return pd.concat([earlier.merge(kept), current], ignore_index=True)


def _timestamp(value) -> datetime | None:
    """An ISO string (as the DAG's run identity carries it) or a stored timestamp, as a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)
