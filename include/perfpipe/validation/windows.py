"""Window frames: the run's numbers per window, ready for GX Expectations.

One tidy frame, one row per (window, window start, class), columns ``WINDOW_COLUMNS``:
- ``whole``: the engine's ``stats_frame`` rows (endpoint, class and total), plus the DB benchmark's
  per-query rows when given;
- ``steady``: the seconds wholly inside ``hold`` stages (ramps excluded);
- ``rolling_<N>s``: every N-second window, sliding by one second;
- ``second``: the engine's ``timeseries_frame`` rows.
Steady and rolling percentiles are exact for their window: the per-second HDR histograms of the
recorder are merged, never averaged.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

from include.perfpipe.metric_names import METRICS, PERCENTILES
from include.perfpipe.metrics import (
    ALL,
    SCENARIO_STATS_COLUMNS,
    STATS_COLUMNS,
    MetricsRecorder,
    bucket_latency_us,
    histogram_counts,
    histogram_layout,
    new_histogram,
    overall,
    us_to_ms,
)
from include.perfpipe.validation.thresholds import SECOND, STEADY, WHOLE, window_seconds

WINDOW_COLUMNS = [
    "window",
    "start_s",
    "end_s",
    "scope",
    "name",
    "class_name",
    "count",
    "errors",
    *METRICS,
]
_STATS_NEEDED = set(STATS_COLUMNS) - {"min_ms", "status_counts", *SCENARIO_STATS_COLUMNS}
_TIMESERIES_NEEDED = {"t", "class_name", "active_vus", "requests", "rps", "errors", "p50_ms", "p95_ms", "p99_ms"}
_STAGE_KINDS = ("ramp", "hold")
_WINDOW_DIGITS = 2  # the precision of the recorder's per-second histograms


def check_frame(name: str, frame: object, needed: set[str]) -> pd.DataFrame:
    """Raise ``ValueError`` naming the argument and the missing columns unless ``frame`` fits."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValueError(f"{name}: missing columns {', '.join(missing)}")
    return frame


def check_stages(stages: object) -> list[dict]:
    """Raise ``ValueError`` naming ``stages[i].<field>`` and the value unless the stage list is well formed."""
    if not isinstance(stages, list):
        raise ValueError(f"stages: expected a list of {{start_s, end_s, kind}}, got {stages!r}")
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict):
            raise ValueError(f"stages[{i}]: expected a mapping, got {stage!r}")
        for key in ("start_s", "end_s"):
            value = stage.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"stages[{i}].{key}: expected seconds >= 0, got {value!r}")
        if stage["end_s"] < stage["start_s"]:
            raise ValueError(f"stages[{i}].end_s: {stage['end_s']!r} is before start_s {stage['start_s']!r}")
        if stage.get("kind") not in _STAGE_KINDS:
            raise ValueError(f"stages[{i}].kind: expected 'ramp' or 'hold', got {stage.get('kind')!r}")
    return stages


def steady_seconds(stages: list[dict]) -> list[int]:
    """Seconds ``t`` whose whole interval ``[t, t+1)`` lies inside a hold stage."""
    seconds: set[int] = set()
    for stage in stages:
        if stage["kind"] == "hold":
            seconds.update(range(math.ceil(stage["start_s"]), math.floor(stage["end_s"])))
    return sorted(seconds)


def window_frame(
    stats: pd.DataFrame,
    timeseries: pd.DataFrame,
    *,
    windows: set[str],
    stages: list[dict],
    recorder: MetricsRecorder | None,
    db_stats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rows for each window in ``windows``; steady and rolling windows need ``recorder``."""
    check_frame("stats", stats, _STATS_NEEDED)
    timeseries = overall(check_frame("timeseries", timeseries, _TIMESERIES_NEEDED))
    parts = []
    if WHOLE in windows:
        parts.append(_whole_rows(stats, timeseries))
        if db_stats is not None:
            parts.append(_whole_rows(check_frame("db_stats", db_stats, _STATS_NEEDED), None))
    if SECOND in windows:
        parts.append(_second_rows(timeseries))
    if recorder is not None:
        merger = _WindowMerger(recorder)
        if STEADY in windows:
            parts.append(pd.DataFrame(merger.rows(STEADY, steady_seconds(stages))))
        for window in sorted(w for w in windows if w.startswith("rolling_")):
            parts.append(pd.DataFrame(merger.rolling_rows(window, window_seconds(window))))
    parts = [p.reindex(columns=WINDOW_COLUMNS) for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=WINDOW_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def _whole_rows(stats: pd.DataFrame, timeseries: pd.DataFrame | None) -> pd.DataFrame:
    rows = stats.copy()
    if timeseries is None:  # a separate benchmark's frame: its total is not this run's total
        rows = rows[rows["scope"] != "total"]
        rows["peak_vus"] = float("nan")
    else:
        rows["peak_vus"] = [_peak_vus(timeseries, class_name) for class_name in rows["class_name"]]
    rows["window"] = WHOLE
    rows["start_s"] = 0
    rows["end_s"] = int(timeseries["t"].max()) + 1 if timeseries is not None and len(timeseries) else float("nan")
    return rows


def _peak_vus(timeseries: pd.DataFrame, class_name: str) -> float:
    """Most users active at once while ``class_name`` was being requested."""
    totals = timeseries[timeseries["class_name"] == ALL].set_index("t")["active_vus"]
    if class_name != ALL:
        busy = timeseries[(timeseries["class_name"] == class_name) & (timeseries["requests"] > 0)]["t"]
        totals = totals[totals.index.isin(busy)]
    return float(totals.max()) if len(totals) else float("nan")


def _second_rows(timeseries: pd.DataFrame) -> pd.DataFrame:
    rows = timeseries.copy()
    requests = rows["requests"].astype(float)
    rows["window"] = SECOND
    rows["start_s"], rows["end_s"] = rows["t"], rows["t"] + 1
    rows["scope"] = ["total" if k == ALL else "class" for k in rows["class_name"]]
    rows["name"] = rows["class_name"]
    rows["count"] = rows["requests"]
    rows["error_rate"] = (rows["errors"] / requests).where(requests > 0)
    rows["peak_vus"] = rows["active_vus"].astype(float)
    return rows


class _WindowMerger:
    """Merges a recorder's per-second histograms over windows of seconds.

    Each second's histogram is decoded once and kept as its non-zero (index, count) pairs; a window's
    histogram is the exact sum of its seconds' counts, kept up to date as the window slides.
    """

    def __init__(self, recorder: MetricsRecorder) -> None:
        self.vus = recorder.active_vus
        self.buckets: dict[int, list[tuple[str, np.ndarray, np.ndarray, int, int]]] = {}
        for (t, class_name, _), bucket in sorted(recorder.seconds.items()):
            hist = bucket.hist if bucket.hist is not None else HdrHistogram.decode(bucket.encoded.encode("ascii"))
            counts = _counts(hist)
            index = np.flatnonzero(counts)
            self.buckets.setdefault(t, []).append((class_name, index, counts[index], bucket.requests, bucket.errors))

    def rolling_rows(self, window: str, size: int) -> list[dict]:
        if not self.buckets:
            return []
        first, last = min(self.buckets), max(self.buckets)
        spans = [(start, min(start + size, last + 1)) for start in range(first, max(first, last - size + 1) + 1)]
        return self._sweep(window, spans)

    def rows(self, window: str, seconds: list[int]) -> list[dict]:
        """One window made of ``seconds`` (consecutive runs of them, e.g. several hold stages)."""
        if not seconds:
            return []
        return self._sweep(window, [(min(seconds), max(seconds) + 1)], only=set(seconds))

    def _sweep(self, window: str, spans: list[tuple[int, int]], only: set[int] | None = None) -> list[dict]:
        """Rows per class and total for each ``[start, end)`` span; spans move forward."""
        sums: dict[str, dict] = {}
        inside: set[int] = set()
        rows = []
        for start, end in spans:
            wanted = {t for t in range(start, end) if only is None or t in only}
            for t in sorted(wanted - inside):
                self._apply(sums, t, +1)
            for t in sorted(inside - wanted):
                self._apply(sums, t, -1)
            inside = wanted
            for class_name, acc in sorted(sums.items()):
                if acc["count"] <= 0:
                    continue
                busy = inside if class_name == ALL else [t for t in inside if acc["busy"].get(t)]
                rows.append(
                    {
                        "window": window,
                        "start_s": start,
                        "end_s": end,
                        "scope": "total" if class_name == ALL else "class",
                        "name": class_name,
                        "class_name": class_name,
                        "count": acc["count"],
                        "errors": acc["errors"],
                        "error_rate": acc["errors"] / acc["count"],
                        "rps": acc["count"] / len(inside),
                        "peak_vus": float(max((self.vus.get(t, 0) for t in busy), default=0)),
                        **_latency(acc["counts"]),
                    }
                )
        return rows

    def _apply(self, sums: dict[str, dict], t: int, sign: int) -> None:
        for class_name, index, values, requests, errors in self.buckets.get(t, []):
            for key in (class_name, ALL):
                acc = sums.get(key)
                if acc is None:
                    acc = sums[key] = {
                        "counts": np.zeros(_counts_len(), dtype=np.int64),
                        "count": 0,
                        "errors": 0,
                        "busy": {},
                    }
                acc["counts"][index] += sign * values
                acc["count"] += sign * requests
                acc["errors"] += sign * errors
                if requests:
                    acc["busy"][t] = acc["busy"].get(t, 0) + sign


def _latency(counts: np.ndarray) -> dict:
    """Percentiles (as ``HdrHistogram.get_value_at_percentile``), mean and max in ms, from bucket counts."""
    us = bucket_latency_us(counts, PERCENTILES, histogram_layout(_WINDOW_DIGITS))
    return {
        **{col: us_to_ms(us[col]) for col in PERCENTILES},
        "mean_ms": us_to_ms(us["mean"]),
        "max_ms": us_to_ms(us["max"]),
    }


def _counts(hist: HdrHistogram) -> np.ndarray:
    """The bucket counts of ``hist`` in the layout of a window histogram."""
    if hist.counts_len != _counts_len():  # recorded at another precision: re-bucket exactly as HdrHistogram.add
        into = new_histogram(_WINDOW_DIGITS)
        into.add(hist)
        hist = into
    return histogram_counts(hist)


@functools.cache
def _counts_len() -> int:
    return new_histogram(_WINDOW_DIGITS).counts_len
