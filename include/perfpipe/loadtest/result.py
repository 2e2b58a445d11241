"""A load test's result: what ran, the recorded metrics, generator health and why it stopped.

``LoadResult.to_dict()`` is the XCom-sized JSON shape of docs/architecture.md; shards merge exactly
with ``merge_results``; ``write`` produces ``summary.json`` (docs/summary-schema.md) and ``timeseries.csv``.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

import pandas as pd

from include.perfpipe.custom_metrics import CustomMetrics
from include.perfpipe.loadtest.journey.stats import JourneyStats
from include.perfpipe.metrics import DEFAULT_SCENARIO, MetricsRecorder, scenario_endpoints

SUMMARY_VERSION = 1


@dataclass
class LoadResult:
    spec: dict
    started_at: str  # ISO 8601, UTC
    ended_at: str
    duration_s: float
    metrics: MetricsRecorder
    stages: list[dict]
    health: dict
    aborted: bool = False
    abort_reason: str | None = None
    extra: dict = field(default_factory=dict)  # e.g. the DB benchmark's "connections"
    journey: JourneyStats | None = None  # iterations, checks and groups of a journey run

    def to_dict(self) -> dict:
        data = {
            "spec": self.spec,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "metrics": self.metrics.to_dict(),
            "stages": self.stages,
            "health": self.health,
            "aborted": self.aborted,
            "abort_reason": self.abort_reason,
            **self.extra,
        }
        if self.journey is not None:
            data["journey"] = self.journey.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> LoadResult:
        known = {f.name for f in fields(cls)} - {"extra"}
        missing = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING} - set(data)
        if missing:
            raise ValueError(f"LoadResult: missing field(s) {sorted(missing)}")
        return cls(
            spec=data["spec"],
            started_at=data["started_at"],
            ended_at=data["ended_at"],
            duration_s=float(data["duration_s"]),
            metrics=MetricsRecorder.from_dict(data["metrics"]),
            stages=list(data["stages"]),
            health=dict(data["health"]),
            aborted=bool(data.get("aborted", False)),
            abort_reason=data.get("abort_reason"),
            extra={k: v for k, v in data.items() if k not in known},
            journey=JourneyStats.from_dict(data["journey"]) if data.get("journey") else None,
        )

    def stats_frame(self) -> pd.DataFrame:
        return self.metrics.stats_frame(self.duration_s)

    def timeseries_frame(self) -> pd.DataFrame:
        return self.metrics.timeseries_frame()

    def metrics_frame(self) -> pd.DataFrame:
        """The scenario's custom metrics, one row per metric (``custom_metrics.METRIC_COLUMNS``)."""
        return (self.journey.metrics if self.journey is not None else CustomMetrics()).frame(self.duration_s)

    def summary(self, validation: dict | None = None) -> dict:
        """The ``summary.json`` document (docs/summary-schema.md)."""
        stats = self.stats_frame()
        stats = pd.concat([stats[stats["scope"] != "endpoint"], scenario_endpoints(stats)])
        rows = {scope: {} for scope in ("endpoint", "class", "total", "scenario", "group", "tag")}
        for row in stats.to_dict("records"):
            row["status_counts"] = json.loads(row["status_counts"])
            row["tags"] = json.loads(row["tags"])
            scope, name = row.pop("scope"), row.pop("name")
            if scope == "group" and row["scenario"] != DEFAULT_SCENARIO:
                name = f"{row['scenario']}: {name}"
            rows[scope][name] = {k: _clean(v) for k, v in row.items()}
        dropped = sum(t.dropped for t in self.metrics.endpoints.values())
        validation = validation or {}
        return {
            "version": SUMMARY_VERSION,
            "verdict": validation.get("verdict"),
            "reason": validation.get("reason"),
            "target": self.spec.get("target"),
            "profile": self.spec.get("profile"),
            "model": self.spec.get("model"),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": round(self.duration_s, 3),
            "totals": rows["total"].get("all", {"count": 0, "errors": 0}),
            "dropped": dropped,
            "classes": rows["class"],
            "endpoints": rows["endpoint"],
            "scenarios": rows["scenario"],
            "groups": rows["group"],
            "tags": rows["tag"],
            "stages": self.stages,
            "health": self.health,
            "aborted": self.aborted,
            "abort_reason": self.abort_reason,
            "validation": validation or None,
            "journey": self.journey.summary(self.duration_s) if self.journey is not None else None,
        }

    def write(self, out_dir: str | Path, validation: dict | None = None) -> Path:
        """Write ``summary.json`` and ``timeseries.csv`` into ``out_dir``; return the summary path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.timeseries_frame().to_csv(out / "timeseries.csv", index=False)
        path = out / "summary.json"
        path.write_text(json.dumps(self.summary(validation), indent=2, default=str) + "\n")
        return path


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def merge_results(results: list[LoadResult]) -> LoadResult:
    """Exact merge of shards or processes of one run: histograms and counts add, health joins."""
    if not results:
        raise ValueError("merge_results: no results to merge")
    reasons: list[str] = []
    notes: list[str] = []
    for r in results:
        reasons += [x for x in r.health.get("reasons", []) if x not in reasons]
        notes += [x for x in r.health.get("notes", []) if x not in notes]
    healths = [r.health for r in results]
    health = {
        "loop_lag_p99_ms": max(h.get("loop_lag_p99_ms", 0.0) for h in healths),
        "loop_lag_max_ms": max(h.get("loop_lag_max_ms", 0.0) for h in healths),
        "cpu_percent": max(h.get("cpu_percent", 0.0) for h in healths),
        "dropped": sum(h.get("dropped", 0) for h in healths),
        "interrupted": sum(h.get("interrupted", 0) for h in healths),
        "start_delay_s": max(h.get("start_delay_s", 0.0) for h in healths),
        "processes": sum(h.get("processes", 1) for h in healths),
        "saturated": any(h.get("saturated", False) for h in healths),
        "reasons": reasons,
        "cpu_bound": any(h.get("cpu_bound", False) for h in healths),
        "notes": notes,
    }
    extra: dict = {}
    for r in results:
        extra.update(r.extra)
    return LoadResult(
        spec=results[0].spec,
        started_at=min(r.started_at for r in results),
        ended_at=max(r.ended_at for r in results),
        duration_s=max(r.duration_s for r in results),
        metrics=MetricsRecorder.merge([r.metrics for r in results]),
        stages=results[0].stages,
        health=health,
        aborted=any(r.aborted for r in results),
        abort_reason=next((r.abort_reason for r in results if r.abort_reason), None),
        extra=extra,
        journey=JourneyStats.merge(journeys) if (journeys := [r.journey for r in results if r.journey]) else None,
    )
