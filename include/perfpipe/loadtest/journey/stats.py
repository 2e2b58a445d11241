"""What a journey run counts beyond requests: iterations, failures, check pass rates and group times.

JSON-able (``to_dict`` / ``from_dict``) and merged exactly across processes and shards (``merge``).
"""

from __future__ import annotations

from collections import Counter

from include.perfpipe.loadtest.journey.checks import CheckTally
from include.perfpipe.metrics import MetricsRecorder

GROUP_CLASS = "group"


class JourneyStats:
    def __init__(self) -> None:
        self.iterations = 0  # iterations that ran to their end
        self.failed_iterations = 0  # restarted by a failed step, or ended by a Python exception
        self.stopped_vus = 0  # VUs that stopped themselves (on_failure: stop, a feeder ran out)
        self.errors: Counter[str] = Counter()  # Python journey exceptions by type
        self.checks = CheckTally()
        self.groups = MetricsRecorder()  # vu.group(name) timings, class "group"

    def to_dict(self) -> dict:
        return {
            "iterations": self.iterations,
            "failed_iterations": self.failed_iterations,
            "stopped_vus": self.stopped_vus,
            "errors": dict(self.errors),
            "checks": self.checks.to_dict(),
            "groups": self.groups.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> JourneyStats:
        stats = cls()
        stats.iterations, stats.failed_iterations = data["iterations"], data["failed_iterations"]
        stats.stopped_vus, stats.errors = data["stopped_vus"], Counter(data["errors"])
        stats.checks = CheckTally.from_dict(data["checks"])
        stats.groups = MetricsRecorder.from_dict(data["groups"])
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
        }
