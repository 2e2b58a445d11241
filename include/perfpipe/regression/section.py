"""The JSON-able regression section of a report and of summary.json (shape: docs/regression.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from include.perfpipe.metrics import ALL
from include.perfpipe.regression.changepoints import detect_change_points
from include.perfpipe.regression.compare import COMPARISON_COLUMNS, HIGHER_IS_BETTER, change_pct
from include.perfpipe.regression.gate import gate_decision
from include.perfpipe.regression.history_gate import history_gate

TREND_METRICS = ("p50_ms", "p95_ms", "p99_ms", "rps", "error_rate")
_RUN_COLUMNS = ("dag_id", "run_id", "started_at", "version", "verdict", "is_baseline", "regression")


def regression_section(
    comparison: pd.DataFrame | None,
    history: pd.DataFrame,
    metric_columns: Sequence[str] = TREND_METRICS,
    min_size: int = 3,
    alpha: float = 0.01,
    min_change_pct: float = 5.0,
) -> dict:
    """Comparison rows, gate decision, noise fingerprint, trend series and change points of ``history``.

    ``comparison``: ``compare_runs`` output, or None when the run had no baseline. ``history``: one
    row per run, oldest first and ending with the current run; columns ``run_id``, ``started_at``,
    ``verdict`` (``dag_id``, ``is_baseline`` optional) and the ``metric_columns`` present, either
    wide (the run's total) or long with a ``class_name`` column (one row per run and class, ``all`` = total).
    ``regression`` (the gate's stored outcome of each earlier run) keeps runs the gate failed out of the
    reference. The gate is ``history_gate`` over the history (the run against its comparable runs' noise);
    while the noise is not known (under 6 earlier runs), the comparison with the baseline decides.
    Change points come from ``detect_change_points(min_size, alpha)`` over each metric and class series.
    """
    runs, series = _trend(history, metric_columns)
    change_points = []
    for (metric, class_name), values in series.items():
        change_points.extend(_change_points(metric, class_name, values, runs, min_size, alpha))
    judged = history_gate(runs, series, min_change_pct) if runs else None
    section = {
        "baseline_found": comparison is not None,
        "comparison": comparison_records(comparison) if comparison is not None else [],
        "gate": _gate(judged, comparison),
        "noise": judged["noise"] if judged else None,
        "shifts": judged["shifts"] if judged else [],
        "change_points": change_points,
        "trend": [_trend_point(run, i, series) for i, run in enumerate(runs)],
    }
    if section["trend"]:
        section["trend"][-1]["regression"] = section["gate"]["status"]
    if comparison is not None:
        directions = comparison["direction"]
        section["counts"] = {d: int((directions == d).sum()) for d in ("regression", "improvement", "unchanged")}
    return section


def _gate(judged: dict | None, comparison: pd.DataFrame | None) -> dict:
    """The history's verdict, else (too few runs to know the noise) the comparison with the baseline's."""
    if judged and judged["status"] != "unknown":
        return {k: judged[k] for k in ("regressed", "status", "reason")}
    if comparison is None:
        return {"regressed": False, "status": "unknown", "reason": "no baseline to compare with"}
    gate = gate_decision(comparison)
    unknown = judged["noise"]["headline"] if judged else "the noise is not known yet"
    return {**gate, "reason": f"{gate['reason']} (within-run comparison with the baseline: {unknown})"}


def _trend(history: pd.DataFrame, metric_columns: Sequence[str]) -> tuple[list[dict], dict]:
    """Per-run identity records and ``{(metric, class_name): values aligned with the runs}``."""
    missing = [c for c in ("run_id", "started_at", "verdict") if c not in history.columns]
    if missing:
        raise ValueError(f"history lacks columns {missing}")
    unknown = [m for m in metric_columns if m not in TREND_METRICS]
    if unknown:
        raise ValueError(f"metric_columns has unknown metrics {unknown}; known: {list(TREND_METRICS)}")
    long = history if "class_name" in history.columns else history.assign(class_name=ALL)
    keys = ["dag_id", "run_id"] if "dag_id" in long.columns else ["run_id"]
    order = long.drop_duplicates(keys)[[c for c in _RUN_COLUMNS if c in long.columns]]
    runs = [{k: _json_value(v) for k, v in row.items()} for row in order.to_dict("records")]
    metrics = [m for m in metric_columns if m in long.columns]
    if not runs or not metrics:
        return runs, {}
    wide = long.pivot_table(index=keys, columns="class_name", values=metrics, aggfunc="first", dropna=False)
    wide = wide.reindex(pd.MultiIndex.from_frame(order[keys]))
    classes = sorted(set(long["class_name"]), key=lambda k: (k != ALL, k))
    return runs, {
        (m, k): wide[(m, k)].to_numpy(float)
        for m in metrics
        for k in classes
        if (m, k) in wide.columns and wide[(m, k)].notna().any()
    }


def _change_points(
    metric: str, class_name: str, values: np.ndarray, runs: list[dict], min_size: int, alpha: float
) -> list[dict]:
    present = np.flatnonzero(np.isfinite(values))
    found = detect_change_points(values[present], min_size=min_size, alpha=alpha)
    bounds = [0, *found, len(present)]
    out = []
    for before_start, at, after_end in zip(bounds, bounds[1:], bounds[2:], strict=False):
        before = float(np.median(values[present[before_start:at]]))
        after = float(np.median(values[present[at:after_end]]))
        change = change_pct(before, after)
        worse = change < 0 if metric in HIGHER_IS_BETTER else change > 0
        run = runs[present[at]]
        out.append(
            {
                "metric": metric,
                "class_name": class_name,
                "index": int(present[at]),
                "run_id": run["run_id"],
                "dag_id": run.get("dag_id"),
                "started_at": run["started_at"],
                "before": before,
                "after": after,
                "change_pct": _json_number(change),
                "direction": "unchanged"
                if change == 0 or math.isnan(change)
                else ("regression" if worse else "improvement"),
            }
        )
    return out


def _trend_point(run: dict, index: int, series: dict) -> dict:
    point = dict(run)
    for (metric, class_name), values in series.items():
        point.setdefault(metric, {})[class_name] = _json_number(values[index])
    return point


def comparison_records(comparison: pd.DataFrame) -> list[dict]:
    """``compare_runs`` rows as JSON-able dicts (NaN and infinite numbers become None)."""
    return [{k: _json_value(v) for k, v in row.items()} for row in comparison[COMPARISON_COLUMNS].to_dict("records")]


def _json_value(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _json_number(value)
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        return None if pd.isna(value) else value.isoformat()
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def _json_number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
