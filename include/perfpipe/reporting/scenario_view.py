"""The report's per-scenario sections: each scenario's headline, its steps with their check pass
rates, and (named scenarios) its own charts, from the load result's recorder."""

from __future__ import annotations

import math

from include.perfpipe.metrics import DEFAULT_SCENARIO, MetricsRecorder

_STEP_COLUMNS = (
    "name", "group_name", "class_name", "count", "errors", "error_rate", "rps", "p50_ms", "p95_ms", "p99_ms",
    "checks_passed", "checks_failed", "check_pass_rate",
)  # fmt: skip


def scenario_sections(load: dict | None) -> list[dict]:
    """One section per scenario (the implicit ``default`` one for a run without named scenarios)."""
    if not load or "metrics" not in load:
        return []
    recorder = MetricsRecorder.from_dict(load["metrics"])
    stats = recorder.stats_frame(float(load.get("duration_s") or 0.0))
    named = recorder.named_scenarios
    sections = []
    for name in recorder.scenarios if named else [DEFAULT_SCENARIO]:
        if named:
            head = stats[(stats["scope"] == "scenario") & (stats["name"] == name)]
        else:
            head = stats[stats["scope"] == "total"]
        steps = stats[(stats["scope"] == "endpoint") & (stats["scenario"] == name)]
        total = head.iloc[0] if len(head) else None
        passed, failed = int(steps["checks_passed"].sum()), int(steps["checks_failed"].sum())
        sections.append(
            {
                "name": name,
                "named": named,
                "totals": None
                if total is None
                else {
                    k: _plain(total[k]) for k in ("count", "errors", "error_rate", "rps", "p50_ms", "p95_ms", "p99_ms")
                },
                "checks": {"passed": passed, "failed": failed, "pass_rate": passed / (passed + failed)}
                if passed + failed
                else None,
                "steps": [{k: _plain(row[k]) for k in _STEP_COLUMNS} for row in steps.to_dict("records")],
            }
        )
    return sections


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value
