"""What a journey run counts beyond requests: iterations, failures, check pass rates, group times and
the scenario's custom metrics.

JSON-able (``to_dict`` / ``from_dict``) and merged exactly across processes and shards (``merge``).
"""

from __future__ import annotations

from collections import Counter

from include.perfpipe.custom_metrics import STATS, CustomMetrics
from include.perfpipe.loadtest.journey.checks import CheckTally
from include.perfpipe.metrics import MetricsRecorder

GROUP_CLASS = "group"


class JourneyStats:
    def __init__(self, metrics: CustomMetrics | None = None, group_trends: dict[str, list[str]] | None = None) -> None:
        self.iterations = 0  # iterations that ran to their end
        self.failed_iterations = 0  # restarted by a failed step, or ended by a Python exception
        self.stopped_vus = 0  # VUs that stopped themselves (on_failure: stop, a feeder ran out)
        self.errors: Counter[str] = Counter()  # Python journey exceptions by type
        self.checks = CheckTally()
        self.groups = MetricsRecorder()  # vu.group(name) timings, class "group"
        self.metrics = metrics or CustomMetrics()
        self.group_trends = group_trends or {}  # group name -> the trends its duration feeds

    def record_group(self, name: str, seconds: float, ok: bool, elapsed_s: float) -> None:
        """One group's run: a row of ``groups``, and a sample (in ms) of every trend bound to it."""
        self.groups.record(name, GROUP_CLASS, seconds, ok, 200 if ok else "GroupError", elapsed_s)
        for metric in self.group_trends.get(name, ()):
            self.metrics.add(metric, seconds * 1000.0, elapsed_s)

    def to_dict(self) -> dict:
        return {
            "iterations": self.iterations,
            "failed_iterations": self.failed_iterations,
            "stopped_vus": self.stopped_vus,
            "errors": dict(self.errors),
            "checks": self.checks.to_dict(),
            "groups": self.groups.to_dict(),
            "metrics": self.metrics.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> JourneyStats:
        stats = cls()
        stats.iterations, stats.failed_iterations = data["iterations"], data["failed_iterations"]
        stats.stopped_vus, stats.errors = data["stopped_vus"], Counter(data["errors"])
        stats.checks = CheckTally.from_dict(data["checks"])
        stats.groups = MetricsRecorder.from_dict(data["groups"])
        stats.metrics = CustomMetrics.from_dict(data.get("metrics"))
        return stats

    @classmethod
    def merge(cls, parts: list[JourneyStats]) -> JourneyStats:
        merged = cls()
        for part in parts:
            merged.iterations += part.iterations
            merged.failed_iterations += part.failed_iterations
            merged.stopped_vus += part.stopped_vus
            merged.errors.update(part.errors)
        merged.checks = CheckTally.merge([p.checks for p in parts])
        merged.groups = MetricsRecorder.merge([p.groups for p in parts])
        merged.metrics = CustomMetrics.merge([p.metrics for p in parts])
        return merged

    def summary(self, duration_s: float) -> dict:
        """The ``journey`` object of ``summary.json``."""
        groups = self.groups.stats_frame(duration_s)
        rows = groups[groups["scope"] == "endpoint"] if len(groups) else groups
        return {
            "iterations": self.iterations,
            "failed_iterations": self.failed_iterations,
            "iterations_per_s": round(self.iterations / duration_s, 3) if duration_s else None,
            "stopped_vus": self.stopped_vus,
            "errors": dict(self.errors),
            "checks": self.checks.to_dict(),
            "groups": {
                row["name"]: {k: row[k] for k in ("count", "errors", "mean_ms", "p50_ms", "p95_ms", "p99_ms")}
                for row in rows.to_dict("records")
            },
            "metrics": metric_summary(self.metrics.frame(duration_s)),
        }


def metric_summary(frame) -> dict:
    """``{name: {kind, unit, <the kind's stats>, invalid}}`` from a ``metrics_frame`` (NaN stats left out)."""
    out = {}
    for row in frame.to_dict("records"):
        stats = {k: v for k, v in row.items() if k in STATS[row["kind"]] and v == v}
        out[row["name"]] = {"kind": row["kind"], "unit": row["unit"] or None, **stats, "invalid": row["invalid"]}
    return out
