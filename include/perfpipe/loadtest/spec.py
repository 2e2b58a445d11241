"""What a load test does: target, load model and stages, endpoints, limits and abort rules.

``load_spec`` turns a profile (``include/config/profiles.yaml``), an optional scenario file
(``include/config/scenarios/*.yaml``) and overrides (DAG Params, CLI flags) into a ``LoadSpec``:
the run contract, a JSON-able description that every shard and process rebuilds its work from.
``LoadSpec`` and ``Endpoint`` are pydantic dataclasses: a spec is checked when it is built and when it is
received (``from_dict``: an XCom, a worker's stdin), every wrong field named at once.
"""

from __future__ import annotations

from dataclasses import asdict, field, replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass
from typing_extensions import TypedDict  # pydantic needs it for a TypedDict before Python 3.12

from include.perfpipe.errors import ConfigError, from_validation
from include.perfpipe.loadtest.http.redirects import DEFAULT_MAX_REDIRECTS
from include.perfpipe.loadtest.http.target import check_target, parse_allowlist, resolve_allowlist, split_url
from include.perfpipe.loadtest.journey.models import Journey, ScenarioFile, ThinkTime
from include.perfpipe.loadtest.journey.scenario import (
    feeder_columns,
    feeder_rows,
    is_plain,
    read_scenario,
    step_urls,
    to_dict,
)
from include.perfpipe.loadtest.profiles import load_profiles
from include.perfpipe.loadtest.run_settings import MAX_TIMEOUT_S, check_timeout, load_overrides, profile_of
from include.perfpipe.metrics import DEFAULT_SCENARIO

MODELS = ("closed", "open")
_CONTRACT = ConfigDict(extra="forbid")  # a field the engine does not know is refused, not dropped
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # a body kept for a check; larger ones fail BodyTooLarge


@dataclass(config=_CONTRACT)
class Endpoint:
    """One request of the scenario. ``url`` is absolute; ``check`` is an optional ``"module:function"``
    taking the ``httpx.Response`` and returning True when the response is good."""

    name: str
    url: str
    method: str = "GET"
    class_name: str = "api"
    weight: float = 1.0
    expect_status: list[int] = field(default_factory=lambda: [200])
    headers: dict[str, str] = field(default_factory=dict)
    json: object = None
    body: str | None = None
    check: str | None = None
    group: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Level(TypedDict):
    """One stage: ramp linearly to ``target`` (VUs, or iterations per second) over ``duration_s``."""

    duration_s: NonNegative
    target: NonNegative


class Staged:
    """One load profile's ``start`` and ``stages`` read over time: its length, its level at a moment and
    its ramp and hold windows (a ``LoadSpec``'s, the DB benchmark's ``QuerySpec``'s)."""

    start: float
    stages: list[dict]

    @property
    def duration_s(self) -> float:
        return sum(stage["duration_s"] for stage in self.stages)

    def level_at(self, elapsed_s: float) -> float:
        """VUs (closed) or arrival rate (open) the profile asks for at ``elapsed_s``."""
        level, begin = self.start, 0.0
        for stage in self.stages:
            end = begin + stage["duration_s"]
            if elapsed_s < end:
                return level + (stage["target"] - level) * (elapsed_s - begin) / stage["duration_s"]
            level, begin = stage["target"], end
        return level

    def stage_windows(self) -> list[dict]:
        """``[{"start_s","end_s","kind"}]``: a stage is a hold when its level does not change."""
        windows, level, begin = [], self.start, 0.0
        for stage in self.stages:
            end = begin + stage["duration_s"]
            if stage["duration_s"] > 0:
                kind = "hold" if stage["target"] == level else "ramp"
                windows.append({"start_s": begin, "end_s": end, "kind": kind})
            level, begin = stage["target"], end
        return windows


@dataclass(config=_CONTRACT)
class LoadSpec(Staged):
    """A complete, JSON-able load test description (``to_dict`` / ``from_dict``).

    closed model: ``start`` and each stage ``target`` are virtual users, ramped linearly;
    open model: they are arrival rates in requests per second, and ``max_vus`` caps in-flight requests.
    """

    target: str
    model: Literal["closed", "open", "scenarios"]  # "scenarios": each named scenario brings its own
    stages: list[Level]
    endpoints: list[Endpoint]
    start: NonNegative = 0.0
    max_vus: Annotated[int, Field(ge=0)] = 0
    profile: str | None = None
    think_time: dict = field(default_factory=lambda: {"kind": "constant"})  # a ThinkTime, dumped
    journey: dict | None = None  # a ScenarioFile with a journey (journey.scenario.to_dict); None: endpoints
    timeout_s: Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S)] = 30.0  # per request
    max_redirects: int = DEFAULT_MAX_REDIRECTS  # followed in a row, every hop's host in the allowlist; 0: none
    cookies: bool = True  # one cookie jar per virtual user
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    verify_tls: bool = True
    abort_rules: list[dict] = field(default_factory=list)  # see abort_rules.AbortRule
    circuit_breaker: dict | None = field(
        default_factory=lambda: {"error_rate": 0.5, "window_s": 10.0, "min_requests": 50}
    )
    allowlist: list[str] = field(default_factory=list)
    loop_lag_bound_ms: float = 50.0
    cpu_bound_percent: float = 95.0
    progress_interval_s: float = 5.0
    credentials_conn_id: str | None = None  # the Airflow connection the worker resolves secret_headers from
    secret_headers: list[str] = field(default_factory=list)  # names only; values: run_load_test(secret_headers=)
    live_metrics: str | None = None  # "HOST:PORT" of a Prometheus endpoint while the run goes (live_metrics.py)
    # named scenarios (docs/scenarios.md): each item the fields of one scenario's own spec (scenario_specs)
    scenarios: list[dict] = field(default_factory=list)
    scenario: str = DEFAULT_SCENARIO  # what this spec's requests are recorded under
    executor: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # on every request of this scenario
    start_time_s: float = 0.0  # the scenario starts this long after the run (its stages begin with a wait)
    per_vu_iterations: int | None = None  # each VU runs exactly this many iterations
    shared_iterations: int | None = None  # the scenario's VUs share this many iterations in all
    vu_offset: int = 0  # VU numbers of this scenario start after the earlier scenarios' VUs
    k6: dict | None = None  # the k6 engine's script, overrides and options (include/perfpipe/k6/engine.py)

    def scenario_specs(self) -> list[LoadSpec]:
        """One spec per named scenario: this one with the scenario's load, requests and labels."""
        return [replace(self, **part, scenarios=[]) for part in self.scenarios]

    def urls(self) -> list[str]:
        """Every URL the test may send to (each is checked against the allowlist before it runs)."""
        if self.scenarios:
            return [url for part in self.scenario_specs() for url in part.urls()]
        if self.journey is None:
            return [e.url for e in self.endpoints]
        return step_urls(ScenarioFile.model_validate(self.journey), self.target)

    @property
    def duration_s(self) -> float:
        if self.scenarios:
            return max(sum(stage["duration_s"] for stage in part["stages"]) for part in self.scenarios)
        return super().duration_s

    def stage_windows(self) -> list[dict]:
        """With named scenarios: a stretch is a ramp while any scenario ramps, a hold while some hold and
        none ramps."""
        if self.scenarios:
            return combined_windows(self.scenario_specs())
        return super().stage_windows()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LoadSpec:
        """The spec ``to_dict`` gave, checked on receipt (a scenario's endpoints stay dicts until
        ``scenario_specs``); a wrong shape is one ``ConfigError`` naming every wrong field (``spec.max_vus``)."""
        try:
            return _RECEIVED.validate_python(data)
        except ValidationError as exc:
            raise from_validation(exc, prefix="spec") from None


_RECEIVED = TypeAdapter(LoadSpec)


def combined_windows(parts: list[LoadSpec]) -> list[dict]:
    """The stage windows of scenarios run side by side (each without the wait before its start)."""
    windows = [
        w
        for part in parts
        for w in part.stage_windows()
        if w["end_s"] > part.start_time_s  # the wait before a scenario starts is no stage of it
    ]
    edges = sorted({e for w in windows for e in (w["start_s"], w["end_s"])})
    combined: list[dict] = []
    for begin, end in zip(edges, edges[1:], strict=False):
        kinds = {w["kind"] for w in windows if w["start_s"] <= begin and end <= w["end_s"]}
        if not kinds:
            continue
        kind = "ramp" if "ramp" in kinds else "hold"
        if combined and combined[-1]["kind"] == kind and combined[-1]["end_s"] == begin:
            combined[-1]["end_s"] = end
        else:
            combined.append({"start_s": begin, "end_s": end, "kind": kind})
    return combined


def load_scenario(path: str | Path, target: str) -> tuple[list[Endpoint], dict | None, dict]:
    """``(endpoints, journey, settings)`` of a scenario file: a plain flat list becomes today's
    endpoints (one pre-built request each) and no journey; anything else a journey dict for the
    engine (``journey.scenario.to_dict``), compiled once here so every error shows before the run."""
    return scenario_parts(read_scenario(path), str(path), target)


def scenario_parts(
    scenario: ScenarioFile, where: str, target: str, as_journey: bool = False
) -> tuple[list[Endpoint], dict | None, dict]:
    """``load_scenario`` of a validated file (``as_journey``: a plain list runs as a weighted journey)."""
    from include.perfpipe.loadtest.journey.compiled import CompiledJourney, resolve_function, step_names

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
    try:
        rows = feeder_rows(scenario)
        if scenario.python is not None:
            resolve_function(scenario.python, "journey")
        else:
            CompiledJourney(scenario, target, feeder_columns(rows))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return [], to_dict(scenario), settings


def scenario_specs(path: str | Path, target: str, caps: dict) -> list[dict]:
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
        think = settings.get("think_time") or ThinkTime(kind="constant")
        if journey is not None:
            journey["think_time"] = think.model_dump()
        parts.append(
            {
                "model": plan.model,
                "start": start,
                "stages": stages,
                "max_vus": plan.max_vus,
                "endpoints": [asdict(e) for e in endpoints],
                "journey": journey,
                "think_time": think.model_dump(),
                "scenario": name,
                "executor": scenario.executor.executor,
                "tags": dict(scenario.tags),
                "start_time_s": scenario.start_time,
                "per_vu_iterations": plan.per_vu_iterations,
                "shared_iterations": plan.shared_iterations,
                "vu_offset": offset,
            }
        )
        offset += plan.max_vus
    if offset > caps["vus"]:
        raise ConfigError(f"scenarios: {offset} VUs in all exceed the cap of {caps['vus']} (limits.max_vus)")
    longest = max(sum(s["duration_s"] for s in part["stages"]) for part in parts)
    if longest > caps["duration"]:
        raise ConfigError(f"scenarios: {longest:g} s exceeds the cap of {caps['duration']:g} s (limits.max_duration)")
    return parts


def _scaled(stages: list[dict], duration_s: float) -> list[dict]:
    total = sum(s["duration_s"] for s in stages)
    return [{"duration_s": s["duration_s"] * duration_s / total, "target": s["target"]} for s in stages]


def load_spec(
    profile: str = "smoke",
    target: str = "http://127.0.0.1:8000",
    scenario: str | Path | None = None,
    overrides: dict | None = None,
    secret_headers: list[str] | None = None,
    allowlist: str | list[str] | None = None,
    *,
    class_name: str | None = None,
    credentials_conn_id: str | None = None,
    profiles_file: str | Path | None = None,
) -> LoadSpec:
    """Build a ``LoadSpec`` from a profile, a scenario and overrides, and refuse disallowed targets.

    overrides (all optional): ``vus`` (closed: constant VUs; open: ``max_vus``), ``duration`` (a
    constant level's length, or the profile's stages scaled to it), ``rate`` (constant arrival rate:
    open model), ``max_vus``, ``stages`` (``[{duration, target}]``, from ``start``, default 0), ``model``,
    ``think_time``,
    ``timeout``, ``abort_rules``, ``circuit_breaker``, ``loop_lag_bound_ms``, ``progress_interval``,
    ``verify_tls`` (False accepts self-signed certificates), ``max_body_bytes`` (a body kept for a check),
    ``live_metrics`` (``PORT`` or ``HOST:PORT`` of a Prometheus endpoint while the run goes; off when empty),
    ``max_redirects`` (0 follows none) and ``cookies`` (False: no cookie jar), which also come from the scenario.
    Without a scenario every request is a GET of ``target`` itself, class ``class_name`` (default ``api``);
    with one, ``class_name`` keeps only that class's endpoints. ``secret_headers`` names the credential
    headers (from ``credentials_conn_id`` or the CLI) the worker adds to every request; a header the
    scenario sets itself wins. Their values never enter the spec (``include.perfpipe.loadtest.http.credentials``).
    """
    asked, given = load_overrides(overrides or {})
    config = load_profiles(profiles_file)
    limits = config["limits"]
    chosen = profile_of(config["profiles"], profile, config["document"])
    model = asked.model or ("open" if asked.rate is not None else chosen.model)
    stages = [stage.level() for stage in asked.stages or chosen.stages]
    start = (asked.start or 0.0) if given & {"start", "stages"} else chosen.start
    level = asked.rate if model == "open" else asked.vus
    if level is not None:
        start, stages = level, [{"duration_s": asked.duration or sum(s["duration_s"] for s in stages), "target": level}]
    elif asked.duration is not None:
        stages = _scaled(stages, asked.duration)
    if sum(s["duration_s"] for s in stages) <= 0:
        got = f"{overrides['duration']!r}" if "duration" in given else f"stages {stages!r}"
        raise ConfigError(f"duration: the test must last longer than 0 s, got {got}")

    if model == "open":
        in_flight = next(v for v in (asked.max_vus, asked.vus, chosen.max_vus) if v is not None)
        if in_flight < 1:
            raise ConfigError(f"max_vus: expected a number >= 1, got {in_flight:g}")
        max_vus = int(in_flight)
    else:
        max_vus = int(max([start] + [s["target"] for s in stages]))
    cap_vus, cap_rate, cap_duration = limits.max_vus, limits.max_rate, limits.max_duration_s
    if max_vus > cap_vus:
        raise ConfigError(f"vus: {max_vus} exceeds the cap of {cap_vus} (limits.max_vus in profiles.yaml)")
    if model == "open":
        peak = max([start] + [s["target"] for s in stages])
        if peak > cap_rate:
            raise ConfigError(
                f"rate: {peak:g} req/s exceeds the cap of {cap_rate:g} (limits.max_rate in profiles.yaml)"
            )
    total = sum(s["duration_s"] for s in stages)
    if total > cap_duration:
        raise ConfigError(f"duration: {total:g} s exceeds the cap of {cap_duration:g} s (limits.max_duration)")

    settings: dict = {}
    journey = None
    named: list[dict] = []
    if scenario is not None:
        endpoints, journey, settings = load_scenario(scenario, target)
        if not endpoints and journey is None:  # named scenarios: each brings its own executor
            load = sorted({"vus", "rate", "stages", "model", "start", "duration"} & given)
            if load or class_name is not None:
                raise ConfigError(
                    f"{scenario}: its scenarios set their own load; {load or ['class']} cannot override it"
                )
            named = scenario_specs(scenario, target, {"vus": cap_vus, "rate": cap_rate, "duration": cap_duration})
        if class_name is not None and journey is not None:
            raise ConfigError(
                f"class: {class_name!r} filters a flat endpoints list; "
                f"the journey of {str(scenario)!r} runs all its steps"
            )
        if class_name is not None:
            endpoints = [e for e in endpoints if e.class_name == class_name]
            if not endpoints:
                raise ConfigError(f"class: no endpoint of class {class_name!r} in scenario {str(scenario)!r}")
    else:
        import httpx

        split_url(target)
        path = httpx.URL(target).raw_path.decode("ascii")
        endpoints = [Endpoint(name=f"GET {path}", url=target, class_name=class_name or "api")]
    if allowlist is None:
        allowed = resolve_allowlist(profiles=config.get("target_allowlist"))
    else:
        allowed = parse_allowlist(allowlist)
    think = asked.think_time if "think_time" in given else settings.get("think_time") or ThinkTime(kind="constant")
    if journey is not None and "think_time" in given:
        journey["think_time"] = think.model_dump()
    spec = LoadSpec(
        target=target,
        model="scenarios" if named else model,
        stages=stages,
        endpoints=endpoints,
        start=start,
        max_vus=max_vus,
        profile=profile,
        think_time=think.model_dump(),
        journey=journey,
        timeout_s=asked.timeout if asked.timeout is not None else _scenario_timeout(settings.get("timeout"), scenario),
        max_body_bytes=int(asked.max_body_bytes or DEFAULT_MAX_BODY_BYTES),
        verify_tls=asked.verify_tls,
        max_redirects=_first(asked.max_redirects, settings.get("max_redirects"), DEFAULT_MAX_REDIRECTS),
        cookies=_first(asked.cookies, settings.get("cookies"), True),
        abort_rules=[rule.normalised() for rule in asked.abort_rules],
        circuit_breaker=asked.circuit_breaker.to_dict() if asked.circuit_breaker else None,
        allowlist=allowed,
        loop_lag_bound_ms=asked.loop_lag_bound_ms,
        progress_interval_s=asked.progress_interval,
        credentials_conn_id=credentials_conn_id,
        secret_headers=list(secret_headers or []),
        live_metrics=_live_metrics(asked.live_metrics),
        scenarios=named,
    )
    for url in spec.urls():
        check_target(url, allowed)
    return spec


def _live_metrics(raw) -> str | None:
    """``HOST:PORT`` of the live Prometheus endpoint, or None (off: unset, empty or false)."""
    if raw in (None, "", False):
        return None
    from include.perfpipe.loadtest.engine.live_metrics import parse_address

    host, port = parse_address(raw)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _first(*values):
    return next(value for value in values if value is not None)


def _scenario_timeout(timeout: float | None, scenario: str | Path | None) -> float:
    """The scenario's ``timeout`` (default 30 s), within what a run allows."""
    if timeout is None:
        return 30.0
    try:
        return check_timeout(timeout)
    except ValueError as exc:
        raise ConfigError(f"{scenario}: timeout: {exc}, got {timeout:g} s") from None
