"""The threshold file (``include/config/thresholds.yaml``, docs/thresholds.md) and the run's overrides as typed models.

pydantic checks each field's type and form; ``problems()`` then lists what depends on other fields or files (a
class the file does not declare, a profile ``profiles.yaml`` lacks, a limit in a unit its metric has not, a
per-second window on a metric not kept per second). Every fault is listed at once, each as a ``Problem`` naming
its field; ``ThresholdConfigError`` puts them on one line, a value of the file named by its kind and line only.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    StrictBool,
    ValidationError,
    model_validator,
)

from include.perfpipe.config_files import Document
from include.perfpipe.errors import ConfigError, kind, without_value
from include.perfpipe.limits import parse_duration_s, parse_limit
from include.perfpipe.metric_names import METRICS, SECOND_METRICS
from include.perfpipe.validation.selectors import parse_selector

TOTAL_CLASS = "all"
WHOLE, STEADY, SECOND, ROLLING = "whole", "steady", "second", "rolling"
OVERRIDE_SUITE = "overrides"
RUN_OVERRIDES = "overrides (run parameters)"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Problem:
    """One fault: the field (``suites.latency.windows[1]``), the value found there, and what is wrong."""

    field: str
    value: object
    message: str
    shown: bool = True  # False: nothing to show (a missing key, an unknown key named by the field itself)


class ThresholdConfigError(ConfigError):
    """A threshold file or override is malformed; names the source and, for each problem, the field and the
    value. A value of the file (``document`` given) is named by its kind and its line, never repeated.
    ``field``, ``value`` and ``problem`` are those of the first problem."""

    def __init__(self, source: str, problems: list[Problem], document: Document | None = None):
        super().__init__(f"{source}: " + "; ".join(_line(problem, document) for problem in problems))
        first = problems[0]
        self.source, self.file, self.field, self.value, self.problem = (
            source,
            source,
            first.field,
            first.value,
            first.message,
        )


def _line(problem: Problem, document: Document | None) -> str:
    if document is None:  # run parameters: the value is the user's own and helps
        shown = f" = {problem.value!r}" if problem.shown else ""
        return f"{problem.field}{shown}: {problem.message}"
    notes = [f"got {kind(problem.value)}"] if problem.shown else []
    where = document.position(None if problem.field.startswith("(") else problem.field)
    notes += [where] if where else []
    return f"{problem.field}: {without_value(problem.message)}" + (f" ({'; '.join(notes)})" if notes else "")


def _name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError("expected a name of letters, digits, '_', '-' or '.'")
    return value


def _section_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty name")
    return value


def _class_key(value: object) -> str:
    """A class name or a selector (``{scenario: checkout}``, ``scenario=checkout``), kept as written."""
    if not isinstance(value, str):
        raise ValueError("expected a class name or a selector like 'scenario=checkout'")
    parse_selector(value)  # ValueError when it is a malformed selector
    return value


def _metric(value: object) -> str:
    if value not in METRICS:
        raise ValueError(f"unknown metric; known: {', '.join(METRICS)}")
    return value


def _window(value: object) -> str:
    """A window as checked: ``rolling_<duration>`` in whole seconds; ``rolling`` stays (the file sets its length)."""
    if value in (WHOLE, STEADY, SECOND, ROLLING):
        return value
    if isinstance(value, str) and value.startswith(f"{ROLLING}_"):
        try:
            return f"{ROLLING}_{parse_duration_s(value[len(ROLLING) + 1 :])}s"
        except ValueError as exc:
            raise ValueError(f"bad rolling window length: {exc}") from None
    raise ValueError("unknown window; use whole, steady, second, rolling or rolling_<duration>")


def _limit(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("a limit is a number or a string like '< 100ms'")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a limit is a finite number")
    return value


Name = Annotated[str, BeforeValidator(_name)]
ClassKey = Annotated[str, BeforeValidator(_class_key)]
MetricName = Annotated[str, BeforeValidator(_metric)]
Window = Annotated[str, BeforeValidator(_window)]
Windows = Annotated[list[Window], Field(min_length=1)]


def resolved_windows(windows: list[str], rolling_s: int) -> tuple[str, ...]:
    """The windows as rules carry them: ``rolling`` given the file's length, each once, in the order written."""
    return tuple(dict.fromkeys(f"{ROLLING}_{rolling_s}s" if w == ROLLING else w for w in windows))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThresholdSpec(_Section):
    """One threshold as written: a limit alone (``"< 500ms"``), or the limit with its options."""

    limit: Annotated[float | str, BeforeValidator(_limit)]
    windows: Windows | None = None  # replaces the suite's windows for this threshold
    per_endpoint: StrictBool | None = None
    abort_on_fail: StrictBool | None = None
    _limit_only: bool = PrivateAttr(False)

    @model_validator(mode="wrap")
    @classmethod
    def _a_limit_alone(cls, raw, handler):
        if isinstance(raw, dict):
            return handler(raw)
        spec = handler({"limit": _limit(raw)})
        spec._limit_only = True
        return spec

    def problems(self, where: str, metric: str, windows: list[str] | tuple[str, ...]) -> list[Problem]:
        """The limit read in ``metric``'s units; a per-second window only on a metric kept per second."""
        problems = []
        try:
            parse_limit(metric, self.limit)
        except ValueError as exc:
            problems.append(Problem(where if self._limit_only else f"{where}.limit", self.limit, str(exc)))
        if SECOND in (self.windows or windows) and metric not in SECOND_METRICS:
            problems.append(Problem(where, metric, f"the per-second window has only {', '.join(SECOND_METRICS)}"))
        return problems


def _class_problems(where: str, key: str, classes: set[str]) -> list[Problem]:
    if parse_selector(key) is not None or key in classes:
        return []
    known = ", ".join(sorted(classes))
    return [Problem(f"{where}.{key}", key, f"unknown class; known: {known} (declare your own under 'classes')")]


class Overrides(RootModel[dict[ClassKey, Annotated[dict[MetricName, ThresholdSpec | None], Field(min_length=1)]]]):
    """``{class: {metric: threshold | null}}`` (null removes it); a flat ``{"class.metric": ...}`` is read as nested."""

    @model_validator(mode="before")
    @classmethod
    def _nested(cls, raw):
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            return raw
        nested: dict = {}
        for key, value in raw.items():
            class_key, dot, metric = key.partition(".") if isinstance(key, str) else (key, "", "")
            value = {metric: value} if dot else value
            if class_key in nested and isinstance(value, dict):
                earlier = nested[class_key]
                if not isinstance(earlier, dict):
                    continue  # the earlier, malformed entry is the one reported
                value = {**earlier, **value}
            nested[class_key] = value
        return nested

    def problems(self, where: str, classes: set[str]) -> list[Problem]:
        problems = []
        for key, per_metric in self.root.items():
            problems += _class_problems(where, key, classes)
            for metric, spec in per_metric.items():
                problems += spec.problems(f"{where}.{key}.{metric}", metric, ()) if spec is not None else []
        return problems

    def changes(self) -> list[tuple[str, str, ThresholdSpec | None]]:
        """``(class key, metric, threshold or None)`` in the order written."""
        return [(key, metric, spec) for key, per_metric in self.root.items() for metric, spec in per_metric.items()]


class Suite(_Section):
    """A group of thresholds judged over the same ``windows``, for the listed ``profiles`` only (all if none)."""

    description: str | None = None
    windows: Windows = [WHOLE]
    profiles: Annotated[list[Name], Field(min_length=1)] | None = None
    thresholds: Annotated[
        dict[ClassKey, Annotated[dict[MetricName, ThresholdSpec], Field(min_length=1)]], Field(min_length=1)
    ]

    def windows_of(self, class_key: str) -> list[str]:
        """A selector is judged over the whole run; a class over the suite's windows."""
        return [WHOLE] if parse_selector(class_key) is not None else self.windows


OverridesByName = Annotated[
    dict[Annotated[str, BeforeValidator(_section_name)], Overrides], BeforeValidator(lambda v: {} if v is None else v)
]


def _version(value: object) -> int:
    if value != 1 or isinstance(value, bool):
        raise ValueError("only version 1 is known")
    return value


class ThresholdFile(_Section):
    """The whole file; ``problems(profiles)`` checks it against itself and the profile names of ``profiles.yaml``."""

    version: Annotated[int, BeforeValidator(_version)] = 1
    classes: Annotated[list[Name], Field(min_length=1)]
    rolling_window: Annotated[int, BeforeValidator(partial(parse_duration_s, minimum=1))] = 30
    abort_delay: Annotated[int, BeforeValidator(partial(parse_duration_s, minimum=0))] | None = None
    suites: Annotated[dict[Name, Suite], Field(min_length=1)]
    profiles: OverridesByName = {}
    targets: OverridesByName = {}

    @property
    def known_classes(self) -> set[str]:
        return {*self.classes, TOTAL_CLASS}

    @property
    def abort_delay_s(self) -> int:
        return self.rolling_window if self.abort_delay is None else self.abort_delay

    def problems(self, profiles: set[str] | None) -> list[Problem]:
        """Every fault that depends on other fields or on ``profiles`` (None: no usable profiles.yaml)."""
        problems = [
            Problem(f"classes[{i}]", name, f"{TOTAL_CLASS!r} (the run total) is implicit; do not list it")
            for i, name in enumerate(self.classes)
            if name == TOTAL_CLASS
        ]
        classes = self.known_classes
        for name, suite in self.suites.items():
            where = f"suites.{name}"
            if name == OVERRIDE_SUITE:
                problems.append(Problem(where, name, f"the suite name {OVERRIDE_SUITE!r} is reserved"))
            problems += _profile_problems(f"{where}.profiles", suite.profiles or [], profiles)
            for key, per_metric in suite.thresholds.items():
                problems += _class_problems(f"{where}.thresholds", key, classes)
                for metric, spec in per_metric.items():
                    problems += spec.problems(f"{where}.thresholds.{key}.{metric}", metric, suite.windows_of(key))
        problems += _profile_problems("profiles", list(self.profiles), profiles, listed=False)
        for section in ("profiles", "targets"):
            for name, block in getattr(self, section).items():
                problems += block.problems(f"{section}.{name}", classes)
        return problems


def _profile_problems(where: str, names: list[str], known: set[str] | None, listed: bool = True) -> list[Problem]:
    if known is None:
        return []
    message = f"unknown profile; profiles.yaml has {', '.join(sorted(known))}"
    return [
        Problem(f"{where}[{i}]" if listed else f"{where}.{name}", name, message)
        for i, name in enumerate(names)
        if name not in known
    ]


def threshold_file(document: Document, profiles: set[str] | None) -> ThresholdFile:
    """The file's data as a ``ThresholdFile``; ``ThresholdConfigError`` listing every problem otherwise."""
    if not isinstance(document.data, dict):
        problem = Problem("(top level)", document.data, "expected a mapping with a 'suites' key")
        raise ThresholdConfigError(str(document.path), [problem], document)
    file = _validated(ThresholdFile, document.data, str(document.path), "", document)
    if problems := file.problems(profiles):
        raise ThresholdConfigError(str(document.path), problems, document)
    return file


def run_overrides(value: dict | str, classes: set[str]) -> Overrides:
    """The run's overrides (a Param's dict, or JSON text from a flag) checked against the file's ``classes``."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise ThresholdConfigError(
                RUN_OVERRIDES, [Problem("overrides", value, f"not valid JSON: {exc.msg}")]
            ) from None
    if not isinstance(value, dict):
        raise ThresholdConfigError(RUN_OVERRIDES, [Problem("overrides", value, "expected a mapping")])
    overrides = _validated(Overrides, value, RUN_OVERRIDES, "overrides")
    if problems := overrides.problems("overrides", classes):
        raise ThresholdConfigError(RUN_OVERRIDES, problems)
    return overrides


_MESSAGES = {  # pydantic's wording where ours says more
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "list_type": "expected a list",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "too_short": "must not be empty",
    "missing": "required",
}


def _validated(model: type[BaseModel], data: object, source: str, prefix: str, document: Document | None = None):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] == "missing")  # missing keys last: a misspelt key
        # (reported unknown) is often why
        raise ThresholdConfigError(source, [_problem(error, model, prefix) for error in errors], document) from None


def _problem(error: dict, model: type[BaseModel], prefix: str) -> Problem:
    loc = [part for part in error["loc"] if part != "[key]"]
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in [prefix, *loc]).lstrip(".")
    if error["type"] == "extra_forbidden":
        keys = ", ".join(_section_at(model, loc[:-1]).model_fields)
        return Problem(field, loc[-1], f"unknown key; allowed: {keys}", shown=False)
    message = _MESSAGES.get(error["type"], error["msg"].removeprefix("Value error, "))
    return Problem(field or "(top level)", error.get("input"), message, shown=error["type"] != "missing")


def _section_at(model: type[BaseModel], parent: list) -> type[_Section]:
    """Which section a key at ``parent`` belongs to: the file, a suite, or a threshold."""
    if model is ThresholdFile and not parent:
        return ThresholdFile
    return Suite if model is ThresholdFile and parent[0] == "suites" and len(parent) == 2 else ThresholdSpec
