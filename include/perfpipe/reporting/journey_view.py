"""The report's journey part: iterations, the checks with their pass rates, groups and the custom
metrics with the thresholds on them (from the load result's ``journey``)."""

from __future__ import annotations

from include.perfpipe.loadtest.journey.stats import JourneyStats
from include.perfpipe.validation.metric_thresholds import METRIC_SUITE


def journey_view(load: dict | None, checks: list[dict]) -> dict | None:
    """``None`` for a run without a journey; ``checks`` are the validation results (custom-metric ones shown)."""
    journey = (load or {}).get("journey")
    if not journey:
        return None
    try:
        summary = JourneyStats.from_dict(journey).summary(float(load["duration_s"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bundle.loadtest.journey is not a journey result: {exc!r}") from None
    metrics = []
    for name, row in summary["metrics"].items():
        limits = [c for c in checks if c.get("suite") == METRIC_SUITE and c.get("class_name") == name]
        stats = {k: v for k, v in row.items() if k not in ("kind", "unit", "invalid")}
        status = None if not limits else ("pass" if all(c["success"] for c in limits) else "fail")
        metrics.append(
            {
                "name": name,
                "kind": row["kind"],
                "unit": row["unit"],
                "stats": stats,
                "invalid": row["invalid"],
                "thresholds": limits,
                "status": status,
            }
        )
    return {
        "iterations": summary["iterations"],
        "failed_iterations": summary["failed_iterations"],
        "iterations_per_s": summary["iterations_per_s"],
        "stopped_vus": summary["stopped_vus"],
        "errors": summary["errors"],
        "checks": sorted(
            ({"check": key, **row} for key, row in summary["checks"].items()),
            key=lambda c: (c["pass_rate"], c["check"]),
        ),
        "groups": [{"group": name, **row} for name, row in summary["groups"].items()],
        "metrics": metrics,
    }
