"""The scenario file format as typed models (pydantic 2); docs/scenarios.md describes every field.

A scenario file holds one of: ``endpoints`` (a flat list, each endpoint a one-step journey picked by
weight), ``journey`` (``setup`` / ``steps`` / ``teardown`` run in order per VU) or ``journey:
"module:function"`` (an ``async def journey(vu)``). How the load is applied (VUs, stages, arrival
rate) is the profile's job: a scenario is a journey, and a later executor field will pair them.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from include.perfpipe.durations import Seconds, parse_duration
from include.perfpipe.errors import problem_text
from include.perfpipe.loadtest.executors import EXECUTOR_FIELDS, EXECUTORS, Executor
from include.perfpipe.loadtest.http.headers import check_headers
from include.perfpipe.loadtest.http.redirects import DEFAULT_MAX_REDIRECTS, MAX_REDIRECTS
from include.perfpipe.loadtest.journey.jsonpath import JsonPath
from include.perfpipe.loadtest.journey.metric_models import MetricDeclaration, MetricFeed, Regex, check_metric_names
from include.perfpipe.loadtest.journey.template import has_template

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_PYTHON_REF = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_SCENARIO = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
RESERVED_TAGS = ("scenario", "group", "step", "class")  # threshold selector keys (docs/scenarios.md)


OnFailure = Literal["continue", "restart", "stop"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _json_path(value: str) -> str:
    JsonPath(value)
    return value


def _listed(value):
    return [value] if isinstance(value, int) else value


def _tags(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        if not _TAG.fullmatch(key) or key in RESERVED_TAGS:
            raise ValueError(f"a tag name is letters, digits, _ . - and not one of {RESERVED_TAGS}, got {key!r}")
        if not text or any(c in text for c in ",={}\r\n"):
            raise ValueError(f"tag {key!r}: a value is non-empty text without , = {{ }} or line breaks, got {text!r}")
    return value


Tags = Annotated[
    dict[str, Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else str(v))]],
    AfterValidator(_tags),
    Field(default_factory=dict),
]
Headers = Annotated[
    dict[str, Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else str(v))]],
    AfterValidator(check_headers),
    Field(default_factory=dict),
]


def _finite(value):
    """JSON has no NaN or Infinity: a body or variable holding one is refused when the scenario loads."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("NaN and Infinity are not JSON; use a number or a string")
        stack.extend(item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
    return value


JsonValue = Annotated[Any, AfterValidator(_finite)]
JsonPathText = Annotated[str, AfterValidator(_json_path)]
Statuses = Annotated[list[Annotated[int, Field(ge=100, le=599)]], BeforeValidator(_listed)]


class ThinkTime(_Model):
    """A pause after each step: ``1s`` (constant), ``[0.5s, 2s]`` (uniform), ``{constant: 1s}``,
    ``{uniform: [0.5s, 2s]}`` or ``{exponential: 1s}`` (random with that mean)."""

    kind: Literal["constant", "uniform", "exponential"]
    min_s: float = 0.0
    max_s: float = 0.0
    mean_s: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _forms(cls, raw):
        if isinstance(raw, dict) and "kind" in raw:
            return raw
        if isinstance(raw, dict) and len(raw) == 1:
            ((kind, value),) = raw.items()
            if kind == "constant":
                return {"kind": "constant", "min_s": parse_duration(value), "max_s": parse_duration(value)}
            if kind == "exponential":
                return {"kind": "exponential", "mean_s": parse_duration(value)}
            if kind == "uniform":
                raw = value
            else:
                raise ValueError(f"expected constant, uniform or exponential, got {kind!r}")
        if isinstance(raw, (list, tuple)):
            if len(raw) != 2:
                raise ValueError(f"expected [min, max], got {raw!r}")
            low, high = (parse_duration(v) for v in raw)
            if high < low:
                raise ValueError("max below min")
            return {"kind": "uniform", "min_s": low, "max_s": high}
        if isinstance(raw, dict):
            raise ValueError(f"expected one of constant, uniform, exponential, got {raw!r}")
        return {"kind": "constant", "min_s": parse_duration(raw), "max_s": parse_duration(raw)}


class Extract(_Model):
    """Where a VU variable comes from: exactly one of ``json``, ``header``, ``regex``, ``status``; a ``regex``
    beside a ``header`` reads that header's values (every ``Set-Cookie`` line) instead of the body."""

    json_path: JsonPathText | None = Field(None, alias="json")
    header: str | None = None
    regex: Regex | None = None
    status: bool | None = None
    pick: Literal["first", "last", "random", "all"] = "first"
    default: Any = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw):
        return {"json": raw} if isinstance(raw, str) else raw

    @model_validator(mode="after")
    def _one_source(self):
        sources = ("json_path", "header", "status") if self.header is not None else ("json_path", "regex", "status")
        given = [k for k in sources if getattr(self, k) not in (None, False)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of json, header, regex or status: true, got {given or 'none'}")
        return self


class Check(_Model):
    """A declarative check, counted in its own pass rate; ``fail_request`` also fails the request."""

    name: str | None = None
    status: Statuses | None = None
    json_path: JsonPathText | None = Field(None, alias="json")
    exists: bool | None = None
    equals: Any = None
    length: int | None = Field(None, ge=0)
    body_contains: str | None = None
    fail_request: bool = False

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k in ("status", "json_path", "body_contains") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"give exactly one of status, json or body_contains, got {kinds or 'none'}")
        tests = [k for k in ("exists", "equals", "length") if k in self.model_fields_set]
        if self.json_path is None and tests:
            raise ValueError(f"{tests} apply to a json check only")
        if len(tests) > 1:
            raise ValueError(f"give one of exists, equals or length, got {tests}")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.status is not None:
            return f"status in {self.status}"
        if self.body_contains is not None:
            return f"body contains {self.body_contains!r}"
        if "equals" in self.model_fields_set:
            return f"{self.json_path} == {self.equals!r}"
        if self.length is not None:
            return f"len({self.json_path}) == {self.length}"
        return f"{self.json_path} {'missing' if self.exists is False else 'exists'}"


class Step(_Model):
    """One request of a journey."""

    name: str | None = None
    method: str = "GET"
    path: str | None = None
    url: str | None = None
    class_name: str = Field("api", alias="class")
    headers: Headers
    json_body: JsonValue = Field(None, alias="json")
    body: str | None = None
    expect_status: Statuses = Field(default_factory=lambda: [200])
    check: str | None = None
    checks: list[Check] = Field(default_factory=list)
    extract: dict[str, Extract] = Field(default_factory=dict)
    think_time: ThinkTime | None = None
    on_failure: OnFailure | None = None
    metrics: dict[str, MetricFeed] = Field(default_factory=dict)  # samples for the scenario's custom metrics
    group: str | None = Field(None, min_length=1)  # a row of the group breakdown (e.g. checkout)
    tags: Tags  # added to the scenario's tags on this step's requests

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value):
        method = str(value).upper()
        if method not in METHODS:
            raise ValueError(f"expected one of {METHODS}, got {value!r}")
        return method

    @field_validator("class_name")
    @classmethod
    def _klass(cls, value):
        if not _CLASS.fullmatch(value) or value == "all":
            raise ValueError(f"expected a class name like 'api' (not 'all'), got {value!r}")
        return value

    @field_validator("check")
    @classmethod
    def _check_ref(cls, value):
        if value is not None and not _PYTHON_REF.fullmatch(value):
            raise ValueError(f"expected 'module:function', got {value!r}")
        return value

    @field_validator("extract")
    @classmethod
    def _names(cls, value):
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"a variable name is letters, digits and _, got {name!r}")
        return value

    @model_validator(mode="after")
    def _where_and_what(self):
        if (self.path is None) == (self.url is None):
            raise ValueError("give 'path' (appended to the target) or an absolute 'url', one of them")
        location = self.path if self.path is not None else self.url
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError(f"path: expected '/...', got {self.path!r}")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url: expected an http:// or https:// URL, got {self.url!r}")
        if self.url is not None and not has_template(self.url):
            try:
                httpx.URL(self.url)
            except httpx.InvalidURL as exc:
                raise ValueError(f"url: not a valid URL ({str(exc).split(':')[0]})") from None
        if any(c in location for c in " \r\n\t") and "{{" not in location:
            raise ValueError(f"path: spaces and control characters must be percent-encoded, got {location!r}")
        if self.json_body is not None and self.body is not None:
            raise ValueError("give 'json' or 'body', not both")
        return self

    @property
    def keeps_body(self) -> bool:
        """Only a step that extracts, checks or reads a metric from the response keeps its body."""
        return bool(self.extract or self.checks or self.check or any(f.reads_body for f in self.metrics.values()))


class Endpoint(Step):
    """A flat endpoint: a one-step journey, picked by ``weight`` on every iteration."""

    weight: float = Field(1.0, ge=0)


class Feeder(_Model):
    """Rows of test data; ``per: vu`` draws one row when a VU starts, ``per: iteration`` one per iteration."""

    file: str
    strategy: Literal["sequential", "random", "circular"] = "sequential"
    per: Literal["vu", "iteration"] = "vu"
    when_exhausted: Literal["stop", "recycle"] = "stop"


class Journey(_Model):
    """What one VU does: ``setup`` once, ``steps`` in order on every iteration, ``teardown`` once."""

    setup: list[Step] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)
    teardown: list[Step] = Field(default_factory=list)
    headers: Headers  # added to steps and teardown (templated: e.g. a token from setup)
    variables: dict[str, JsonValue] = Field(default_factory=dict)
    think_time: ThinkTime | None = None
    pacing: Seconds | None = None
    on_failure: OnFailure = "continue"


JourneyField = (
    Annotated[
        Annotated[Journey, Tag("mapping")] | Annotated[str, Tag("module:function")],
        Discriminator(lambda v: "module:function" if isinstance(v, str) else "mapping"),
    ]
    | None
)


class Scenario(_Model):
    """One named scenario: its executor (its fields sit beside the others, as in k6), when it starts,
    its tags and think time, and what its VUs do (``endpoints`` or ``journey``)."""

    executor: Executor
    start_time: Seconds = 0.0
    tags: Tags
    think_time: ThinkTime | None = None
    headers: Headers
    endpoints: list[Endpoint] | None = Field(None, min_length=1)
    journey: JourneyField = None

    @model_validator(mode="before")
    @classmethod
    def _executor_fields(cls, raw):
        """``executor: name`` and that executor's fields, gathered into one ``executor`` config."""
        if not isinstance(raw, dict) or not isinstance(raw.get("executor"), str):
            return raw
        name = raw["executor"]
        if name not in EXECUTORS:
            raise ValueError(f"executor: expected one of {sorted(EXECUTORS)}, got {name!r}")
        own = set(EXECUTORS[name].model_fields)
        stray = sorted((set(raw) & EXECUTOR_FIELDS) - own - set(cls.model_fields))
        if stray:
            raise ValueError(f"executor {name} has no field(s) {stray}; its fields: {sorted(own - {'executor'})}")
        config = {k: v for k, v in raw.items() if k in own}
        return {**{k: v for k, v in raw.items() if k not in own}, "executor": config}

    @field_validator("journey")
    @classmethod
    def _python_ref(cls, value):
        return _python_journey(value)

    @model_validator(mode="after")
    def _one_journey(self):
        if (self.endpoints is None) == (self.journey is None):
            raise ValueError("give 'endpoints' (a flat weighted list) or 'journey', one of them")
        if self.endpoints is not None and not any(e.weight > 0 for e in self.endpoints):
            raise ValueError("endpoints: at least one endpoint needs a weight > 0")
        return self


class ScenarioFile(_Model):
    """A whole ``include/config/scenarios/*.yaml`` file."""

    timeout: Seconds | None = None
    think_time: ThinkTime | None = None
    headers: Headers  # added to every request
    cookies: bool = True  # one cookie jar per VU
    max_redirects: int = Field(DEFAULT_MAX_REDIRECTS, ge=0, le=MAX_REDIRECTS)  # followed in a row; 0: none
    feeders: dict[str, Feeder] = Field(default_factory=dict)
    metrics: dict[str, MetricDeclaration] = Field(default_factory=dict)  # custom metrics the steps feed
    endpoints: list[Endpoint] | None = Field(None, min_length=1)
    journey: JourneyField = None
    scenarios: dict[str, Scenario] | None = Field(None, min_length=1)  # named scenarios run side by side

    @field_validator("journey")
    @classmethod
    def _python_ref(cls, value):
        return _python_journey(value)

    @field_validator("scenarios")
    @classmethod
    def _scenario_names(cls, value):
        for name in value or {}:
            if not _SCENARIO.fullmatch(name) or name in ("all", "default"):
                raise ValueError(f"a scenario name is letters, digits, _ and - (not all or default), got {name!r}")
        return value

    @model_validator(mode="after")
    def _one_journey(self):
        if self.scenarios is not None:
            if self.endpoints is not None or self.journey is not None:
                raise ValueError("give 'scenarios' (each with its endpoints or journey), or one top-level journey")
        elif (self.endpoints is None) == (self.journey is None):
            raise ValueError("give 'endpoints' (a flat weighted list) or 'journey', one of them (or named 'scenarios')")
        if self.endpoints is not None and not any(e.weight > 0 for e in self.endpoints):
            raise ValueError("endpoints: at least one endpoint needs a weight > 0")
        for name in self.feeders:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"feeders: a feeder name is letters, digits and _, got {name!r}")
        check_metric_names(self.metrics)
        steps = _steps(self.endpoints, self.journey)
        for scenario in (self.scenarios or {}).values():
            steps += _steps(scenario.endpoints, scenario.journey)
        for step in steps:
            unknown = sorted(set(step.metrics) - set(self.metrics))
            if unknown:
                raise ValueError(
                    f"step {step.name or step.path or step.url!r}: metrics {unknown} are not declared under "
                    f"'metrics'; declared: {sorted(self.metrics)}"
                )
        return self

    @property
    def python(self) -> str | None:
        return self.journey if isinstance(self.journey, str) else None

    def scenario_file(self, name: str) -> ScenarioFile:
        """The file as one scenario runs it: its journey or endpoints, think time and headers."""
        scenario = self.scenarios[name]
        return self.model_copy(
            update={
                "scenarios": None,
                "endpoints": scenario.endpoints,
                "journey": scenario.journey,
                "think_time": scenario.think_time or self.think_time,
                "headers": {**self.headers, **scenario.headers},
            }
        )


def _python_journey(value):
    if isinstance(value, str) and not _PYTHON_REF.fullmatch(value):
        raise ValueError(f"expected a journey mapping or 'module:function', got {value!r}")
    return value


def _steps(endpoints: list[Endpoint] | None, journey) -> list[Step]:
    if isinstance(journey, Journey):
        return [*journey.setup, *journey.steps, *journey.teardown]
    return list(endpoints or [])


_TAGS = ("mapping", "module:function", *EXECUTORS)


def describe(error: ValidationError, where: str, document=None) -> str:
    """One line per problem: ``where: field.path: message (got <kind>; line L, column C)``, never the value
    (the line and column when ``document``, the file's ``config_files.Document``, is given)."""
    lines = []
    for problem in error.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"] if p not in _TAGS).lstrip(".")
        text = problem_text(problem, document, unknown="unknown field (docs/scenarios.md lists the fields)")
        lines.append(f"{where}: {loc or 'scenario'}: {text}")
    return "\n".join(lines)
