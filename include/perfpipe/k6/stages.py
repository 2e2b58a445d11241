"""A k6 run's stage windows (``[{start_s, end_s, kind}]``, ramp or hold), from its consolidated options, so the
steady and rolling windows of our threshold suites apply to a k6 run as to an engine run.

Scenarios side by side combine as the engine's named scenarios do: a stretch is a ramp while any scenario
ramps, a hold while some hold and none ramps. An iteration-based executor (``per-vu-iterations``,
``shared-iterations``, ``externally-controlled``) has no length known in advance: the run then has no windows
(its whole-run checks still apply).
"""

from __future__ import annotations

from include.perfpipe.k6.runner import seconds
from include.perfpipe.loadtest.contract import side_by_side

_HOLDS = ("constant-vus", "constant-arrival-rate")
_RAMPS = {"ramping-vus": "startVUs", "ramping-arrival-rate": "startRate"}


def stage_windows(options: dict) -> list[dict]:
    """The windows of k6's ``scenarios`` (consolidated with the run's overrides: a ``duration`` override is
    one ``constant-vus`` scenario, ``stages`` one ``ramping-vus``)."""
    parts = []
    for scenario in (options.get("scenarios") or {}).values():
        part = _scenario_windows(scenario)
        if part is None:
            return []
        parts.append(part)
    return side_by_side([{"start_s": start, "end_s": end, "kind": kind} for part in parts for start, end, kind in part])


def _scenario_windows(scenario: dict) -> list[tuple[float, float, str]] | None:
    begin, executor = seconds(scenario.get("startTime")), scenario.get("executor")
    if executor in _HOLDS:
        return [(begin, begin + seconds(scenario.get("duration")), "hold")]
    if executor not in _RAMPS:
        return None
    level, at, found = scenario.get(_RAMPS[executor]) or 0, begin, []
    for stage in scenario.get("stages") or []:
        length = seconds(stage.get("duration"))
        if length > 0:
            found.append((at, at + length, "hold" if stage.get("target") == level else "ramp"))
        at, level = at + length, stage.get("target")
    return found
