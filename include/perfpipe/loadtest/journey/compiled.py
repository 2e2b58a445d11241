"""A validated scenario compiled for sending: request templates, extractors, checks, think times, the
feeders' rows, and a load-time check that every template names something that is set by then.

``compiled_journey`` compiles a scenario once per process: the plan compiles it to show every error before
the run, and the run's clients in the same process take that one; a worker process, handed the spec as
JSON, compiles it once. The run's credentials are added per client (``CompiledJourney.with_credentials``),
never compiled in, since a plan holds their names only."""

from __future__ import annotations

import copy
import importlib
import random
import weakref
from bisect import bisect
from collections.abc import Callable
from itertools import accumulate

import httpx

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.http.credentials import for_origin, unless_set
from include.perfpipe.loadtest.http.headers import check_headers, octets
from include.perfpipe.loadtest.http.target import split_url
from include.perfpipe.loadtest.journey.checks import CheckRule
from include.perfpipe.loadtest.journey.extract import Extractor
from include.perfpipe.loadtest.journey.metric_feeds import FeedRule
from include.perfpipe.loadtest.journey.models import Journey, ScenarioFile, Step, ThinkTime
from include.perfpipe.loadtest.journey.request import RequestTemplate
from include.perfpipe.loadtest.journey.scenario import feeder_columns, feeder_rows
from include.perfpipe.loadtest.journey.template import TemplateError
from include.perfpipe.metrics import DEFAULT_SCENARIO


def think_sampler(think: ThinkTime | None) -> Callable[[], float] | None:
    """A function giving the next pause in seconds, or None for no pause."""
    if think is None:
        return None
    if think.kind == "exponential":
        rate = 1.0 / think.mean_s if think.mean_s > 0 else 0.0
        return (lambda: random.expovariate(rate)) if rate else None
    low, high = think.min_s, think.max_s
    if high <= 0:
        return None
    return (lambda: low) if low == high else (lambda: random.uniform(low, high))


def resolve_function(reference: str, where: str) -> Callable:
    """The object named by ``"module:function"``; ValueError naming ``where`` otherwise."""
    module_name, _, attr = reference.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{where}: cannot import {reference!r}: {exc}") from None


class CompiledStep:
    """A step ready to send from any VU: its request template, where to connect and how to judge.
    ``header_names`` are those the step sets itself (lower case): a credential of the same name is not added."""

    __slots__ = (
        "name",
        "class_name",
        "where",
        "request",
        "url",
        "header_names",
        "model",
        "host",
        "port",
        "scheme",
        "expect",
        "keep_body",
        "extractors",
        "checks",
        "check",
        "think",
        "on_failure",
        "group",
        "tags",
        "feeds",
    )

    def __init__(
        self,
        step: Step,
        where: str,
        target: str,
        headers: dict[str, str],
        default_think,
        on_failure: str,
        kinds: dict[str, str] | None = None,
        check_rows: str = "",
    ) -> None:
        """``check_rows``: what the rows of its checks' tally begin with (a named scenario's ``"name: "``)."""
        self.name, self.class_name, self.where = step.name, step.class_name, where
        self.group, self.tags = step.group, dict(step.tags)
        self.url = url = step.url or target.rstrip("/") + step.path
        headers = {**headers, **step.headers}
        self.header_names = frozenset(name.lower() for name in headers)
        try:
            self.request = RequestTemplate(step.method, url, headers, step.json_body, step.body)
        except TemplateError as exc:
            raise ConfigError(f"{where}.{exc}") from None
        self.model = httpx.Request(step.method, url)  # what a kept response is built around
        self.scheme, self.host, self.port = split_url(url)
        self.expect = frozenset(step.expect_status)
        self.keep_body = step.keeps_body
        self.extractors = {name: Extractor(model) for name, model in step.extract.items()}
        self.checks = [CheckRule(model, check_rows + step.name) for model in step.checks]
        self.check = resolve_function(step.check, f"{where}.check") if step.check else None
        self.think = think_sampler(step.think_time) if step.think_time is not None else default_think
        self.on_failure = step.on_failure or on_failure
        self.feeds = [FeedRule(name, feed, (kinds or {})[name]) for name, feed in step.metrics.items()]

    def with_credentials(self, secret_headers: dict[str, str], target: str) -> CompiledStep:
        """This step, sending ``secret_headers`` too when it goes to ``target``'s own origin (those it does not
        set itself)."""
        own = unless_set(for_origin(secret_headers, self.url, target), dict.fromkeys(self.header_names))
        if not own:
            return self
        check_headers(own, "secret_headers")
        step = copy.copy(self)
        step.request = self.request.with_header_lines(
            b"".join(name.encode("latin-1") + b": " + value + b"\r\n" for name, value in octets(own).items())
        )
        return step


class CompiledJourney:
    """``setup``, ``steps`` (in order, or one picked by weight when ``weights`` is set) and
    ``teardown``; ``variables`` each VU starts with; ``pacing_s`` between iteration starts; ``rows``, each
    feeder's rows. A Python journey has its function (``python``) and no steps. ``scenario_name`` is the
    named scenario it runs in (the rows of its checks' tally begin with it)."""

    def __init__(self, scenario: ScenarioFile, target: str, scenario_name: str = DEFAULT_SCENARIO) -> None:
        self.target = target
        self.rows = feeder_rows(scenario)
        self.python = resolve_function(scenario.python, "journey") if scenario.python else None
        self.setup: list[CompiledStep] = []
        self.steps: list[CompiledStep] = []
        self.teardown: list[CompiledStep] = []
        self.weights: list[float] | None = None
        self.variables: dict = {}
        self.pacing_s = 0.0
        if self.python is None:
            self._compile(scenario, "" if scenario_name == DEFAULT_SCENARIO else f"{scenario_name}: ")
            self._check_references(feeder_columns(self.rows))

    def _compile(self, scenario: ScenarioFile, check_rows: str) -> None:
        headers = scenario.headers
        default_think = think_sampler(scenario.think_time)
        if scenario.endpoints is not None:
            journey = Journey(steps=scenario.endpoints)
            self.weights = list(accumulate(e.weight for e in scenario.endpoints))
        else:
            journey = scenario.journey
            default_think = think_sampler(journey.think_time) if journey.think_time else default_think
        flat = self.weights is not None
        names = step_names(journey, flat)
        kinds = {name: metric.type for name, metric in scenario.metrics.items()}

        def compile_steps(part: str, step_headers: dict[str, str]) -> list[CompiledStep]:
            return [
                CompiledStep(
                    step.model_copy(update={"name": names[(part, i)]}),
                    _label(part, i, flat),
                    self.target,
                    step_headers,
                    default_think,
                    journey.on_failure,
                    kinds,
                    check_rows,
                )
                for i, step in enumerate(getattr(journey, part))
            ]

        self.setup = compile_steps("setup", headers)
        self.steps = compile_steps("steps", {**headers, **journey.headers})
        self.teardown = compile_steps("teardown", {**headers, **journey.headers})
        self.variables = dict(journey.variables)
        self.pacing_s = journey.pacing or 0.0

    def with_credentials(self, secret_headers: dict[str, str]) -> CompiledJourney:
        """This journey with the run's credentials on the steps to the target's own origin (itself when
        there are none): each client of the run adds them to the one compiled journey."""
        if not secret_headers:
            return self
        journey = copy.copy(self)
        for part in ("setup", "steps", "teardown"):
            steps = [step.with_credentials(secret_headers, self.target) for step in getattr(self, part)]
            setattr(journey, part, steps)
        return journey

    @property
    def all_steps(self) -> list[CompiledStep]:
        return self.setup + self.steps + self.teardown

    def pick(self) -> CompiledStep:
        weights = self.weights
        return self.steps[bisect(weights, random.random() * weights[-1])]

    def _check_references(self, feeder_columns: dict[str, set[str]]) -> None:
        """Every ``{{ name }}`` is set before the step that uses it (by ``variables``, an earlier
        step's ``extract`` or, for a flat list, any endpoint's), every ``{{ feeder.column }}`` exists."""
        defined = set(self.variables)
        if self.weights:
            defined |= {name for step in self.steps for name in step.extractors}
        for step in self.all_steps:
            for ref in sorted(step.request.refs):
                feeder, _, column = ref.partition(".")
                if column:
                    if feeder not in feeder_columns:
                        raise ConfigError(
                            f"{step.where}: {{{{ {ref} }}}} names no feeder; feeders: {sorted(feeder_columns)}"
                        )
                    if column not in feeder_columns[feeder]:
                        raise ConfigError(
                            f"{step.where}: feeder {feeder!r} has no column {column!r}; "
                            f"columns: {sorted(feeder_columns[feeder])}"
                        )
                elif ref not in defined:
                    raise ConfigError(
                        f"{step.where}: {{{{ {ref} }}}} is not set by journey.variables or by "
                        "the extract of an earlier step"
                    )
            defined |= set(step.extractors)


_COMPILED: dict[tuple[int, str, str], CompiledJourney] = {}  # (id of the scenario, target, scenario name)


def compiled_journey(scenario: ScenarioFile, target: str, scenario_name: str = DEFAULT_SCENARIO) -> CompiledJourney:
    """``scenario`` compiled for ``target``, once per process while the scenario lives (the plan's compile is
    the run's when both happen in one process; ``ConfigError`` on the first use when it does not compile)."""
    key = (id(scenario), target, scenario_name)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = CompiledJourney(scenario, target, scenario_name)
        weakref.finalize(scenario, _COMPILED.pop, key, None)  # its id may be reused once it is gone
    return compiled


def _label(part: str, i: int, flat: bool) -> str:
    return f"endpoints[{i}]" if flat else f"journey.{part}[{i}]"


def step_names(journey: Journey, flat: bool) -> dict[tuple[str, int], str]:
    """Each step's name (given, or ``METHOD path`` without the query); duplicates are refused."""
    names, seen = {}, {}
    for part in ("setup", "steps", "teardown"):
        for i, step in enumerate(getattr(journey, part)):
            name = step.name or (f"endpoint_{i}" if flat else f"{step.method} {(step.path or step.url).split('?')[0]}")
            if name in seen:
                raise ConfigError(
                    f"{_label(part, i, flat)}.name: duplicate step name {name!r} (also {seen[name]}); "
                    "give each step its own name"
                )
            seen[name] = _label(part, i, flat)
            names[(part, i)] = name
    return names
