"""The regression section of one run, computed one way for the DAG's publish task and for the CLI.

The run is judged against the comparable runs that started before it (same target, profile and workload
shape; at most ``history_runs`` of them): its noise band and shifts (``history_gate``) and change points per
class. It is also compared second by second with ``baseline`` (``find_baseline`` picks it: marked, else the
last passing run the gate did not fail), which decides while the history is too short to know its noise.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from include.perfpipe.regression.baseline import as_datetime, find_baseline, shape_difference, shape_of
from include.perfpipe.regression.compare import compare_runs
from include.perfpipe.regression.frames import run_frames
from include.perfpipe.regression.gate import gated_verdict
from include.perfpipe.regression.section import TREND_METRICS, regression_section

HISTORY_RUNS = 30  # the noise of 30 runs is known within 13 % (docs/regression.md)
log = logging.getLogger("perfpipe.regression")


def analyse_run(
    store,
    run: dict,
    current: dict,
    *,
    verdict: str,
    baseline: dict | None,
    shape: dict | None = None,
    history_runs: int = HISTORY_RUNS,
    alpha: float = 0.05,
    min_change_pct: float = 5.0,
    min_change_ms: float = 1.0,
) -> dict:
    """The report's regression section (docs/regression.md) of ``run`` against ``baseline``.

    ``run``: the run's identity (``dag_id``, ``run_id``, ``target``, ``profile``, ``started_at``,
    ``version``, optional ``is_baseline``: accepted as the new normal, the gate does not fail it). ``current``:
    its load test, a ``LoadResult`` dict or ``{"stats", "timeseries", "stages"}`` frames; ``shape``: its
    workload shape (None: every earlier run of the target and profile is comparable). ``store``: a
    ``ResultsStore``. Raises ValueError when the comparison cannot be made (e.g. no steady-state seconds);
    ``unavailable_section`` reports that instead.
    """
    frames = run_frames(current, "current")
    history = _history(store, run, frames["stats"], verdict, shape, history_runs)
    base_frames = store.run_frames(baseline["dag_id"], baseline["run_id"]) if baseline else None
    comparison = None
    if base_frames is not None:
        comparison = compare_runs(
            base_frames, frames, alpha=alpha, min_change_pct=min_change_pct, min_change_ms=min_change_ms
        )
    section = regression_section(comparison, history, min_change_pct=min_change_pct)
    if run.get("is_baseline") and section["gate"]["regressed"]:  # the user accepts it as the new normal
        reason = section["gate"]["reason"]
        section["gate"] = {"regressed": False, "status": "accepted", "reason": f"accepted as the baseline: {reason}"}
        section["trend"][-1]["regression"] = "accepted"
    return section


def section_for(store, bundle: dict, verdict: str) -> dict | None:
    """The regression section of a run bundle (``run``, ``loadtest``, ``baseline``); None without a load test.
    A comparison that cannot be made is reported in the section's gate reason."""
    load, baseline = bundle.get("loadtest"), bundle.get("baseline")
    if not load:
        return None
    try:
        return analyse_run(store, bundle["run"], load, verdict=verdict, baseline=baseline, shape=shape_of(load))
    except ValueError as exc:
        log.warning("no regression analysis: %s", exc)
        return unavailable_section(baseline is not None, exc)


def record_run(
    store,
    bundle: dict,
    verdict: str,
    reason: str,
    *,
    mark_baseline: bool = False,
    fail_on_regression: bool = False,
    history_runs: int = HISTORY_RUNS,
) -> dict:
    """Judge a run against its history and save it in ``store`` (a ``ResultsStore``), as the publish task does.

    Returns what the report adds: ``baseline``, ``baseline_note``, ``history``, ``regression`` (the section),
    and ``verdict``, ``reason`` with the regression gate (``gated_verdict``), which is also what the store
    records. A run marked as baseline that meets its thresholds is accepted as the new normal: the gate does
    not fail it, and it is marked after it is saved.
    """
    accepted = bool(mark_baseline) and verdict == "pass"
    run = {**bundle["run"], "is_baseline": accepted}
    added = find_baseline(store, run, shape_of(bundle.get("loadtest")), limit=history_runs)
    section = section_for(store, {**bundle, **added, "run": run}, verdict)
    verdict, reason = gated_verdict(verdict, reason, (section or {}).get("gate"), fail_on_regression)
    if section and section["trend"]:
        section["trend"][-1]["verdict"] = verdict  # as the store records it, so `regression --run` reproduces it
    added = {**added, "regression": section, "verdict": verdict, "reason": reason}
    store.save_bundle(
        {**bundle, **added}, verdict, reason, shape=shape_of(bundle.get("loadtest")), report_url=run.get("report_url")
    )
    if accepted:
        store.mark_baseline(run["dag_id"], run["run_id"])
    elif mark_baseline:
        log.warning("not marked as baseline: the verdict is %s, not pass", verdict)
    return added


def unavailable_section(baseline_found: bool, why: Exception) -> dict:
    """The section of a run whose comparison could not be made, saying why in the gate reason."""
    return {
        "baseline_found": baseline_found,
        "comparison": [],
        "change_points": [],
        "trend": [],
        "gate": {"regressed": False, "status": "unknown", "reason": f"comparison not possible: {why}"},
    }


def _history(
    store, run: dict, stats: pd.DataFrame, verdict: str, shape: dict | None, history_runs: int
) -> pd.DataFrame:
    """Per class (long), so a regression of one class shows even where the run's total hides it: the comparable
    runs that started before ``run``, oldest first, then the run."""
    started_at = as_datetime(run.get("started_at"))
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
    key = (run["dag_id"], run["run_id"])
    earlier = store.class_history(run["target"], run["profile"], limit=history_runs + 1, started_before=started_at)
    earlier = earlier[~((earlier["dag_id"] == key[0]) & (earlier["run_id"] == key[1]))]
    if shape is not None:
        candidates = store.baseline_candidates(
            run["target"], run["profile"], key, limit=history_runs + 1, started_before=started_at
        )
        alike = {(c["dag_id"], c["run_id"]) for c in candidates if shape_difference(shape, c["shape"]) is None}
        comparable = [k in alike for k in zip(earlier["dag_id"], earlier["run_id"], strict=True)]
        earlier = earlier.loc[np.array(comparable, dtype=bool)]
    kept = earlier.drop_duplicates(["dag_id", "run_id"]).tail(history_runs)[["dag_id", "run_id"]]
    return pd.concat([earlier.merge(kept), current], ignore_index=True)
