"""What a load test does: target, load model and stages, endpoints, limits and abort rules.

``load_spec`` turns a profile (``include/config/profiles.yaml``), an optional scenario file
(``include/config/scenarios/*.yaml``) and overrides (DAG Params, CLI flags) into a ``LoadSpec``:
the run contract, a JSON-able description that every shard and process rebuilds its work from.
``LoadSpec`` and ``Endpoint`` are pydantic dataclasses: a spec is checked when it is built and when it is
received (``from_dict``: an XCom, a worker's stdin), every wrong field named at once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, field, replace
from functools import partial
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass
from typing_extensions import TypedDict  # pydantic needs it for a TypedDict before Python 3.12

from include.perfpipe.config_files import Document
from include.perfpipe.durations import parse_duration
from include.perfpipe.errors import ConfigError, from_validation
from include.perfpipe.loadtest.engine.abort_rules import abort_rules
from include.perfpipe.loadtest.http.redirects import DEFAULT_MAX_REDIRECTS, MAX_REDIRECTS
from include.perfpipe.loadtest.http.target import check_target, parse_allowlist, resolve_allowlist, split_url
from include.perfpipe.loadtest.journey.models import Journey, ScenarioFile, ThinkTime, describe
from include.perfpipe.loadtest.journey.scenario import (
    feeder_columns,
    feeder_rows,
    is_plain,
    read_scenario,
    step_urls,
    to_dict,
)
from include.perfpipe.loadtest.profiles import load_profiles
from include.perfpipe.metrics import DEFAULT_SCENARIO

MODELS = ("closed", "open")
_CONTRACT = ConfigDict(extra="forbid")  # a field the engine does not know is refused, not dropped
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # a body kept for a check; larger ones fail BodyTooLarge
MAX_TIMEOUT_S = 600.0


def _flag(value, field_name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{field_name}: expected true or false, got {value!r}")
    return value


def _number(value, field_name: str, minimum: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{field_name}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or number < minimum:
        raise ConfigError(f"{field_name}: expected a number >= {minimum:g}, got {value!r}")
    return number


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
    timeout_s: float = 30.0  # per request, 0 < timeout_s <= MAX_TIMEOUT_S
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


def _checked(parse, value, field_name: str, expected: str, document: Document | None):
    """``parse(value, field_name)``; for a value of the profiles file (``document``) the error names its line
    and its kind, not the value."""
    try:
        return parse(value, field_name)
    except ConfigError:
        if document is None:
            raise
        raise document.error(field_name, expected, value) from None


def _stages(raw, where: str, document: Document | None = None) -> list[dict]:
    """Checked ``[{duration, target}]``; ``where`` prefixes the field names (``profiles.smoke``)."""
    field_name = f"{where}.stages".lstrip(".")
    if not isinstance(raw, list) or not raw or not all(isinstance(s, dict) for s in raw):
        if document is not None:
            raise document.error(field_name, "expected a non-empty list of {duration, target}", raw)
        raise ConfigError(f"{field_name}: expected a non-empty list of {{duration, target}}, got {raw!r}")
    stages = []
    for i, stage in enumerate(raw):
        item = f"{field_name}[{i}]"
        if set(stage) - {"duration", "target"} or "duration" not in stage:
            if document is not None:
                raise document.error(item, "expected {duration, target}", stage)
            raise ConfigError(f"{item}: expected {{duration, target}}, got {stage!r}")
        duration = _checked(parse_duration, stage["duration"], f"{item}.duration", "expected a duration", document)
        target = _checked(_number, stage.get("target", 0), f"{item}.target", "expected a number >= 0", document)
        stages.append({"duration_s": duration, "target": target})
    return stages


def _think_time(raw) -> ThinkTime:
    try:
        return ThinkTime.model_validate(raw or 0)
    except ValidationError as exc:
        raise ConfigError(describe(exc, "think_time").replace("think_time: scenario: ", "think_time: ")) from None


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
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    config = load_profiles(profiles_file)
    profiles, limits, document = config["profiles"], config["limits"], config["document"]
    if profile not in profiles:
        raise ConfigError(f"profile: unknown profile {profile!r}; known: {sorted(profiles)}")
    raw = profiles[profile]
    if not isinstance(raw, dict) or set(raw) - {"model", "start", "stages", "max_vus"}:
        raise document.error(f"profiles.{profile}", "expected a mapping of model, start, stages, max_vus", raw)
    unknown = set(overrides) - {
        "vus",
        "duration",
        "rate",
        "max_vus",
        "stages",
        "start",
        "model",
        "think_time",
        "timeout",
        "abort_rules",
        "circuit_breaker",
        "loop_lag_bound_ms",
        "progress_interval",
        "verify_tls",
        "max_body_bytes",
        "live_metrics",
        "max_redirects",
        "cookies",
    }
    if unknown:
        raise ConfigError(f"overrides: unknown field(s) {sorted(unknown)}")
    model = overrides.get("model") or ("open" if "rate" in overrides else raw.get("model", "closed"))
    if model not in MODELS and not overrides.get("model"):
        raise document.error(f"profiles.{profile}.model", f"expected one of {MODELS}", model)
    if model not in MODELS:
        raise ConfigError(f"model: expected one of {MODELS}, got {model!r}")
    if "stages" in overrides:
        stages = _stages(overrides["stages"], "")
    else:
        stages = _stages(raw.get("stages"), f"profiles.{profile}", document)
    if "start" in overrides or "stages" in overrides:
        start = _number(overrides.get("start", 0), "start")
    else:
        start = _checked(_number, raw.get("start", 0), f"profiles.{profile}.start", "expected a number >= 0", document)
    duration = overrides.get("duration")
    duration_s = parse_duration(duration, "duration") if duration is not None else None
    level_key = "rate" if model == "open" else "vus"
    if level_key in overrides:
        level = _number(overrides[level_key], level_key)
        start, stages = level, [{"duration_s": duration_s or sum(s["duration_s"] for s in stages), "target": level}]
    elif duration_s is not None:
        stages = _scaled(stages, duration_s)
    if sum(s["duration_s"] for s in stages) <= 0:
        got = f"{duration!r}" if duration is not None else f"stages {stages!r}"
        raise ConfigError(f"duration: the test must last longer than 0 s, got {got}")

    max_vus = overrides.get("max_vus", overrides.get("vus") if model == "open" else None)
    if model == "open":
        if max_vus is not None:
            max_vus = int(_number(max_vus, "max_vus", 1))
        else:
            field_name, expected = f"profiles.{profile}.max_vus", "expected a number >= 1"
            at_least_one = partial(_number, minimum=1)
            max_vus = int(_checked(at_least_one, raw.get("max_vus", 100), field_name, expected, document))
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
            load = sorted({"vus", "rate", "stages", "model", "start", "duration"} & set(overrides))
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
    think = (
        _think_time(overrides["think_time"])
        if "think_time" in overrides
        else (settings.get("think_time") or ThinkTime(kind="constant"))
    )
    if journey is not None and "think_time" in overrides:
        journey["think_time"] = think.model_dump()

    breaker = overrides.get("circuit_breaker", LoadSpec.__dataclass_fields__["circuit_breaker"].default_factory())
    if breaker:
        breaker = {
            "error_rate": _number(breaker.get("error_rate", 0.5), "circuit_breaker.error_rate"),
            "window_s": parse_duration(breaker.get("window_s", breaker.get("window", 10)), "circuit_breaker.window_s"),
            "min_requests": int(_number(breaker.get("min_requests", 50), "circuit_breaker.min_requests")),
        }
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
        timeout_s=_timeout(overrides.get("timeout", settings.get("timeout") or 30)),
        max_body_bytes=int(_number(overrides.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES), "max_body_bytes", 1)),
        verify_tls=_flag(overrides.get("verify_tls", True), "verify_tls"),
        max_redirects=_redirects(overrides.get("max_redirects", settings.get("max_redirects", DEFAULT_MAX_REDIRECTS))),
        cookies=_flag(overrides.get("cookies", settings.get("cookies", True)), "cookies"),
        abort_rules=abort_rules(overrides.get("abort_rules", [])),
        circuit_breaker=breaker or None,
        allowlist=allowed,
        loop_lag_bound_ms=_number(overrides.get("loop_lag_bound_ms", 50), "loop_lag_bound_ms"),
        progress_interval_s=parse_duration(overrides.get("progress_interval", 5), "progress_interval"),
        credentials_conn_id=credentials_conn_id,
        secret_headers=list(secret_headers or []),
        live_metrics=_live_metrics(overrides.get("live_metrics")),
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


def _redirects(raw) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_REDIRECTS:
        raise ConfigError(f"max_redirects: expected a whole number from 0 to {MAX_REDIRECTS}, got {raw!r}")
    return raw


def _timeout(raw) -> float:
    timeout = parse_duration(raw, "timeout")
    if not 0 < timeout <= MAX_TIMEOUT_S:
        raise ConfigError(f"timeout: expected more than 0 s and at most {MAX_TIMEOUT_S:g} s, got {raw!r}")
    return timeout
