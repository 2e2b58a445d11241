"""Read a saved run for ``compare``: a LoadResult JSON file, or a run folder (summary.json + timeseries.csv).

Folders written by the load engine (``summary.json`` with ``totals``/``classes``/``endpoints`` keyed by
name and top-level ``stages``) and by the report (rows in lists, ``loadtest.stages``) both work; the
per-second data comes from ``timeseries.csv`` beside it. A ``summary.json`` holding ``metrics`` (a
``MetricsRecorder`` dict) needs no CSV.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from include.perfpipe.metrics import ALL, LEGACY_CLASS_KEY, STATS_COLUMNS
from include.perfpipe.regression.frames import run_frames

_NUMERIC = [
    c
    for c in STATS_COLUMNS
    if c not in ("scope", "name", "class_name", "status_counts", "scenario", "group_name", "tags")
]


def read_run(path: str | Path, label: str = "run") -> dict:
    """``{"stats", "timeseries", "stages"}`` of the run saved at ``path`` (a folder or a JSON file)."""
    path = Path(path)
    summary_path = path / "summary.json" if path.is_dir() else path
    try:
        summary = json.loads(summary_path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{label}: no such file {summary_path}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{label}: {summary_path} is not JSON: {exc}") from None
    if not isinstance(summary, dict):
        raise ValueError(f"{label}: {summary_path} must hold a JSON object")
    if "metrics" in summary:
        return run_frames(summary, label)
    csv_path = summary_path.parent / "timeseries.csv"
    if not csv_path.exists():
        raise ValueError(f"{label}: {summary_path} has no 'metrics' and {csv_path} does not exist")
    stages = summary.get("stages", (summary.get("loadtest") or {}).get("stages", []))
    frames = {
        "stats": _stats_frame(summary, label),
        "timeseries": pd.read_csv(csv_path).rename(columns={LEGACY_CLASS_KEY: "class_name"}),
        "stages": stages,
    }
    return run_frames(frames, label)


def _stats_frame(summary: dict, label: str) -> pd.DataFrame:
    rows = []
    named = {"class_name", LEGACY_CLASS_KEY} & set(summary.get("totals") or {})
    total = summary.get("totals") if named else summary.get("total")
    if total:
        rows.append({**total, "scope": "total", "name": ALL})
    for scope, key in (("class", "classes"), ("endpoint", "endpoints")):
        group = summary.get(key) or []
        if isinstance(group, dict):  # the load engine's summary: rows keyed by name
            group = [{**row, "name": name} for name, row in group.items()]
        if not isinstance(group, list):
            raise ValueError(f"{label}: summary.json {key} must be a list or an object, got {type(group).__name__}")
        rows.extend({**row, "scope": scope} for row in group)
    if not rows:
        raise ValueError(f"{label}: summary.json has no stats rows (totals, classes or endpoints)")
    frame = pd.DataFrame(rows).rename(columns={LEGACY_CLASS_KEY: "class_name"}).reindex(columns=STATS_COLUMNS)
    frame[_NUMERIC] = frame[_NUMERIC].apply(pd.to_numeric, errors="coerce")
    return frame
