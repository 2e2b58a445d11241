"""What a scenario file makes of a run: a flat list of fixed requests (``Endpoint``), a journey compiled once
(``check_journey``: the run in this process takes that compile), or the parts of ``LoadSpec.scenarios`` for
named scenarios (each with its executor's load)."""

from __future__ import annotations

from pathlib import Path

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.contract import NO_PAUSE, Endpoint, ScenarioPart
from include.perfpipe.loadtest.journey.models import Journey, ScenarioFile
from include.perfpipe.loadtest.journey.scenario import is_plain, read_scenario
from include.perfpipe.metrics import DEFAULT_SCENARIO


def load_scenario(path: str | Path, target: str) -> tuple[list[Endpoint], ScenarioFile | None, dict]:
    """``(endpoints, journey, settings)`` of a scenario file: a plain flat list becomes today's
    endpoints (one pre-built request each) and no journey; anything else the journey the engine runs
    (``check_journey`` it once its run settings are in)."""
    return scenario_parts(read_scenario(path), str(path), target)


def scenario_parts(
    scenario: ScenarioFile, where: str, target: str, as_journey: bool = False
) -> tuple[list[Endpoint], ScenarioFile | None, dict]:
    """``load_scenario`` of a validated file (``as_journey``: a plain list runs as a weighted journey)."""
    from include.perfpipe.loadtest.journey.compiled import step_names

    settings = {
        "think_time": scenario.think_time,
        "timeout": scenario.timeout,
        "cookies": scenario.cookies,
        "max_redirects": scenario.max_redirects,
    }
    if scenario.scenarios is not None:
        return [], None, settings
    if is_plain(scenario) and not as_journey:
        endpoints = [
            Endpoint(
                name=name,
                url=step.url or target.rstrip("/") + step.path,
                method=step.method,
                class_name=step.class_name,
                weight=step.weight,
                expect_status=list(step.expect_status),
                headers={**scenario.headers, **step.headers},
                json=step.json_body,
                body=step.body,
                check=step.check,
                group=step.group,
                tags=dict(step.tags),
            )
            for (_, name), step in zip(
                step_names(Journey(steps=scenario.endpoints), flat=True).items(), scenario.endpoints, strict=False
            )
        ]
        return endpoints, None, settings
    return [], scenario, settings


def check_journey(journey: ScenarioFile, where: str, target: str, scenario_name: str = DEFAULT_SCENARIO) -> None:
    """Compile ``journey`` for the run, once (``journey.compiled.compiled_journey``: the run's clients in this
    process take the same one), so every error shows before the run, as a ``ConfigError`` naming ``where``."""
    from include.perfpipe.loadtest.journey.compiled import compiled_journey

    try:
        compiled_journey(journey, target, scenario_name)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def scenario_specs(path: str | Path, target: str, caps: dict) -> list[ScenarioPart]:
    """The parts of ``LoadSpec.scenarios`` for a file with named scenarios (each compiled and capped)."""
    from include.perfpipe.loadtest.journey.models import Scenario

    scenario_file = read_scenario(path)
    parts, offset = [], 0
    for name, scenario in scenario_file.scenarios.items():
        scenario: Scenario
        plan = scenario.executor.plan()
        iterations = plan.per_vu_iterations is not None or plan.shared_iterations is not None
        endpoints, journey, settings = scenario_parts(
            scenario_file.scenario_file(name), f"{path}: scenarios.{name}", target, as_journey=iterations
        )
        start, stages = plan.start, list(plan.stages)
        if scenario.start_time > 0:  # nothing until start_time, then the executor's own start
            start = 0.0
            stages = [{"duration_s": scenario.start_time, "target": 0.0}, {"duration_s": 0.0, "target": plan.start}]
            stages += plan.stages
        peak = max([plan.start] + [s["target"] for s in plan.stages])
        if plan.model == "open" and peak > caps["rate"]:
            raise ConfigError(f"scenarios.{name}: {peak:g} iterations/s exceeds the cap of {caps['rate']:g}")
        think = settings.get("think_time") or NO_PAUSE
        if journey is not None:
            journey = journey.model_copy(update={"think_time": think})
            check_journey(journey, f"{path}: scenarios.{name}", target, name)
        parts.append(
            ScenarioPart(
                model=plan.model,
                start=start,
                stages=stages,
                max_vus=plan.max_vus,
                endpoints=endpoints,
                journey=journey,
                think_time=think,
                scenario=name,
                executor=scenario.executor.executor,
                tags=dict(scenario.tags),
                start_time_s=scenario.start_time,
                per_vu_iterations=plan.per_vu_iterations,
                shared_iterations=plan.shared_iterations,
                vu_offset=offset,
            )
        )
        offset += plan.max_vus
    if offset > caps["vus"]:
        raise ConfigError(f"scenarios: {offset} VUs in all exceed the cap of {caps['vus']} (limits.max_vus)")
    longest = max(part.duration_s for part in parts)
    if longest > caps["duration"]:
        raise ConfigError(f"scenarios: {longest:g} s exceeds the cap of {caps['duration']:g} s (limits.max_duration)")
    return parts
