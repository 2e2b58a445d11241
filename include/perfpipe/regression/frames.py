"""The frames a comparison reads: a run's stats and per-second frames, cut to its steady state."""

from __future__ import annotations

import pandas as pd

from include.perfpipe.custom_metrics import METRIC_COLUMNS, CustomMetrics
from include.perfpipe.metrics import SCENARIO_STATS_COLUMNS, STATS_COLUMNS, TIMESERIES_COLUMNS, MetricsRecorder, overall


def run_frames(run: dict, label: str = "run") -> dict:
    """``{"stats", "timeseries", "stages", "metrics"}`` from that shape (``metrics`` optional) or from a
    ``LoadResult``-shaped dict.

    A ``LoadResult`` dict (``metrics``, ``duration_s``, ``stages``) is turned into frames through
    ``MetricsRecorder``; ``label`` names the run in error messages.
    """
    if not isinstance(run, dict):
        raise ValueError(f"{label} must be a dict, got {type(run).__name__}")
    stages = run.get("stages") or []
    if "stats" in run and "timeseries" in run:
        stats, timeseries = pd.DataFrame(run["stats"]), pd.DataFrame(run["timeseries"])
    elif "metrics" in run:
        duration = run.get("duration_s")
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or duration <= 0:
            raise ValueError(f"{label}.duration_s must be a positive number, got {duration!r}")
        try:
            recorder = MetricsRecorder.from_dict(run["metrics"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{label}.metrics is not a MetricsRecorder dict: {exc!r}") from None
        stats, timeseries = recorder.stats_frame(duration), recorder.timeseries_frame()
    else:
        raise ValueError(f"{label} needs 'stats' and 'timeseries' frames or a 'metrics' dict, got keys {sorted(run)}")
    # runs saved before scenarios existed lack the scenario columns: they hold one implicit scenario
    _require_columns(
        stats, [c for c in STATS_COLUMNS if c not in {"status_counts", *SCENARIO_STATS_COLUMNS}], f"{label}.stats"
    )
    _require_columns(timeseries, [c for c in TIMESERIES_COLUMNS if c != "scenario"], f"{label}.timeseries")
    return {
        "stats": stats,
        "timeseries": overall(timeseries),
        "stages": _checked_stages(stages, label),
        "metrics": _metrics(run, label),
    }


def _metrics(run: dict, label: str) -> pd.DataFrame:
    """The run's ``metrics_frame``: given as ``metrics`` beside the frames, or from a LoadResult's journey."""
    if "stats" in run and "metrics" in run:
        metrics = pd.DataFrame(run["metrics"])
        _require_columns(metrics, METRIC_COLUMNS, f"{label}.metrics")
        return metrics
    journey = run.get("journey") or {}
    try:
        return CustomMetrics.from_dict(journey.get("metrics")).frame(float(run.get("duration_s") or 0.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{label}.journey.metrics is not a CustomMetrics dict: {exc!r}") from None


def steady_seconds(timeseries: pd.DataFrame, stages: list[dict], label: str = "run") -> pd.DataFrame:
    """Rows of whole seconds inside a ``hold`` stage; every row when the run has no hold stage."""
    holds = [s for s in stages if s["kind"] == "hold"]
    if not holds:
        return timeseries
    t = timeseries["t"]
    inside = pd.Series(False, index=timeseries.index)
    for stage in holds:
        inside |= (t >= stage["start_s"]) & (t + 1 <= stage["end_s"])
    if not inside.any():
        seconds = f"{t.min()}..{t.max()}" if len(t) else "none"
        raise ValueError(
            f"{label}.stages: no whole second of per-second data (t {seconds}) lies in a hold stage {holds}"
        )
    return timeseries[inside]


def _require_columns(frame: pd.DataFrame, columns: list[str], label: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{label} lacks columns {missing}")


def _checked_stages(stages: list, label: str) -> list[dict]:
    if not isinstance(stages, list):
        raise ValueError(f"{label}.stages must be a list, got {type(stages).__name__}")
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict) or not {"start_s", "end_s", "kind"} <= set(stage):
            raise ValueError(f"{label}.stages[{i}] needs start_s, end_s and kind, got {stage!r}")
        if stage["kind"] not in ("ramp", "hold"):
            raise ValueError(f"{label}.stages[{i}].kind must be 'ramp' or 'hold', got {stage['kind']!r}")
    return stages
