"""The run contract: ``LoadSpec``, what a load test does (target, load model and stages, endpoints or a journey,
limits and abort rules), JSON-able, built by ``load_spec`` and handed to every shard and process.

``LoadSpec``, ``Endpoint``, ``ScenarioPart`` and ``K6Run`` are pydantic; a journey is the scenario language's
``ScenarioFile``, a think time its ``ThinkTime``, the abort rules and circuit breaker the engine's ``AbortRule`` and
``CircuitBreaker``. A spec is checked when it is built and when it is received (``from_dict``: an XCom, a worker's
stdin), every wrong field named at once (``spec.journey.journey.steps.0.path: ...``).
"""

from __future__ import annotations

from dataclasses import field, fields, replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_serializer
from pydantic.dataclasses import dataclass
from typing_extensions import TypedDict  # pydantic needs it for a TypedDict before Python 3.12

from include.perfpipe.errors import from_validation
from include.perfpipe.loadtest.engine.abort_rules import CircuitBreaker, NormalisedRule
from include.perfpipe.loadtest.http.redirects import DEFAULT_MAX_REDIRECTS
from include.perfpipe.loadtest.journey.models import ScenarioFile, ThinkTime
from include.perfpipe.loadtest.journey.scenario import step_urls, to_dict
from include.perfpipe.loadtest.run_settings import MAX_TIMEOUT_S
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


class K6Run(BaseModel):
    """What the k6 engine runs (``k6.engine.k6_spec``): the script, the overrides given (``vus``, ``duration``,
    ``stages`` as k6's ``--stage``), k6's consolidated options from ``k6 inspect`` and the metrics the reader
    carries only when named. ``options`` stays a plain mapping: it is k6's own schema, opaque to us."""

    model_config = _CONTRACT
    script: str
    vus: int | None = None
    duration: str | None = None
    stages: list[tuple[str, int]] = []  # (duration, target VUs)
    options: dict[str, Any] = {}
    carried: list[str] = []

    @field_serializer("stages")
    def _stages_json(self, stages: list[tuple[str, int]]) -> list[list]:
        return [list(stage) for stage in stages]  # JSON has no tuple: an XCom gives lists back


NO_PAUSE = ThinkTime(kind="constant")  # the default think time: none
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
class ScenarioPart(Staged):
    """One named scenario of a run (``LoadSpec.scenarios``): the fields its own spec takes from it
    (``LoadSpec.scenario_specs``), its executor's load, its requests and its labels."""

    model: Literal["closed", "open"]
    stages: list[Level]
    max_vus: Annotated[int, Field(ge=0)]
    scenario: str
    start: NonNegative = 0.0
    endpoints: list[Endpoint] = field(default_factory=list)
    journey: ScenarioFile | None = None
    think_time: ThinkTime = NO_PAUSE
    executor: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    start_time_s: NonNegative = 0.0
    per_vu_iterations: int | None = None
    shared_iterations: int | None = None
    vu_offset: Annotated[int, Field(ge=0)] = 0

    @field_serializer("journey")
    def _journey_json(self, journey: ScenarioFile | None) -> dict | None:
        return None if journey is None else to_dict(journey)


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
    think_time: ThinkTime = NO_PAUSE
    journey: ScenarioFile | None = None  # a journey (JSON: journey.scenario.to_dict); None: endpoints
    timeout_s: Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S)] = 30.0  # per request
    max_redirects: int = DEFAULT_MAX_REDIRECTS  # followed in a row, every hop's host in the allowlist; 0: none
    cookies: bool = True  # one cookie jar per virtual user
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    verify_tls: bool = True
    abort_rules: list[NormalisedRule] = field(default_factory=list)
    circuit_breaker: CircuitBreaker | None = CircuitBreaker()  # None: off
    allowlist: list[str] = field(default_factory=list)
    loop_lag_bound_ms: float = 50.0
    cpu_bound_percent: float = 95.0
    progress_interval_s: float = 5.0
    credentials_conn_id: str | None = None  # the Airflow connection the worker resolves secret_headers from
    secret_headers: list[str] = field(default_factory=list)  # names only; values: run_load_test(secret_headers=)
    live_metrics: str | None = None  # "HOST:PORT" of a Prometheus endpoint while the run goes (live_metrics.py)
    scenarios: list[ScenarioPart] = field(default_factory=list)  # named scenarios (docs/scenarios.md)
    scenario: str = DEFAULT_SCENARIO  # what this spec's requests are recorded under
    executor: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # on every request of this scenario
    start_time_s: float = 0.0  # the scenario starts this long after the run (its stages begin with a wait)
    per_vu_iterations: int | None = None  # each VU runs exactly this many iterations
    shared_iterations: int | None = None  # the scenario's VUs share this many iterations in all
    vu_offset: int = 0  # VU numbers of this scenario start after the earlier scenarios' VUs
    k6: K6Run | None = None  # what the k6 engine runs (include/perfpipe/k6/engine.py)

    def scenario_specs(self) -> list[LoadSpec]:
        """One spec per named scenario: this one with the scenario's load, requests and labels."""
        return [
            replace(self, **{name: getattr(part, name) for name in _PART_FIELDS}, scenarios=[])
            for part in self.scenarios
        ]

    def urls(self) -> list[str]:
        """Every URL the test may send to (each is checked against the allowlist before it runs)."""
        if self.scenarios:
            return [url for part in self.scenario_specs() for url in part.urls()]
        if self.journey is None:
            return [e.url for e in self.endpoints]
        return step_urls(self.journey, self.target)

    @property
    def duration_s(self) -> float:
        if self.scenarios:
            return max(part.duration_s for part in self.scenarios)
        return super().duration_s

    def stage_windows(self) -> list[dict]:
        """With named scenarios: a stretch is a ramp while any scenario ramps, a hold while some hold and
        none ramps."""
        if self.scenarios:
            return combined_windows(self.scenario_specs())
        return super().stage_windows()

    @field_serializer("journey")
    def _journey_json(self, journey: ScenarioFile | None) -> dict | None:
        return None if journey is None else to_dict(journey)

    def to_dict(self) -> dict:
        """JSON-able; ``from_dict`` gives the same spec back."""
        return _RECEIVED.dump_python(self)

    @classmethod
    def from_dict(cls, data: dict) -> LoadSpec:
        """The spec ``to_dict`` gave, checked on receipt; a wrong shape is one ``ConfigError`` naming every
        wrong field and its value (``spec.max_vus``, ``spec.journey.journey.steps.0.path``)."""
        try:
            return _RECEIVED.validate_python(data)
        except ValidationError as exc:
            raise from_validation(exc, prefix="spec") from None


_RECEIVED = TypeAdapter(LoadSpec)
_PART_FIELDS = tuple(f.name for f in fields(ScenarioPart))


def combined_windows(parts: list[LoadSpec]) -> list[dict]:
    """The stage windows of scenarios run side by side (each without the wait before its start)."""
    windows = [
        w
        for part in parts
        for w in part.stage_windows()
        if w["end_s"] > part.start_time_s  # the wait before a scenario starts is no stage of it
    ]
    return side_by_side(windows)


def side_by_side(windows: list[dict]) -> list[dict]:
    """Stage windows ``[{start_s, end_s, kind}]`` of scenarios run side by side, as one timeline: a stretch is
    a ramp while any window over it ramps, a hold while some hold and none ramps; neighbours of one kind are
    joined and a stretch no window covers is left out (the engine's named scenarios, k6's scenarios)."""
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
