"""Threshold configuration: ``include/config/thresholds.yaml`` read, checked and resolved for one run.

Resolution order: the file's suites, then the file's ``profiles.<profile>`` overrides, then its
``targets.<target>`` overrides, then the run's ``overrides`` (Airflow Params or CLI flags).
Suites that list ``profiles`` apply to those profiles only (capacity targets do not apply to a smoke run).
Every problem raises ``ThresholdConfigError`` naming the file, the field and the value.
See docs/thresholds.md for the schema.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from include.perfpipe.config_files import Document, read_yaml
from include.perfpipe.errors import ConfigError, kind, without_value
from include.perfpipe.limits import parse_duration_s, parse_limit
from include.perfpipe.metric_names import METRICS, SECOND_METRICS
from include.perfpipe.validation.selectors import label, parse_selector

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "thresholds.yaml"
TOTAL_CLASS = "all"
WHOLE, STEADY, SECOND = "whole", "steady", "second"
OVERRIDE_SUITE = "overrides"
OVERRIDE_WINDOWS = (WHOLE, STEADY)
_TOP_KEYS = {"version", "classes", "rolling_window", "abort_delay", "suites", "profiles", "targets"}
_SUITE_KEYS = {"description", "windows", "profiles", "thresholds"}
_SPEC_KEYS = {"limit", "windows", "per_endpoint", "abort_on_fail"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ThresholdConfigError(ConfigError):
    """A threshold file or override is malformed; names the source, the field and the value. A value of the
    file (``document`` given) is named by its kind and its line, never repeated."""

    def __init__(self, source: str, field: str, value: object, problem: str, document: Document | None = None):
        if document is None:
            super().__init__(f"{source}: {field} = {value!r}: {problem}")
        else:
            where = document.position(None if field.startswith("(") else field)
            shown = f"got {kind(value)}" + (f"; {where}" if where else "")
            super().__init__(f"{source}: {field}: {without_value(problem)} ({shown})")
        self.source, self.file, self.field, self.value, self.problem = source, source, field, value, problem


@dataclass(frozen=True)
class Threshold:
    """One check: ``metric`` of class ``class_name`` must satisfy ``operator limit`` in each window."""

    suite: str
    class_name: str
    metric: str
    operator: str
    limit: float
    windows: tuple[str, ...]
    per_endpoint: bool = False
    abort_on_fail: bool = False


@dataclass(frozen=True)
class Thresholds:
    """The thresholds that apply to one run (profile and target resolved, overrides applied)."""

    source: str
    profile: str | None
    target: str | None
    classes: tuple[str, ...]
    rolling_window_s: int
    abort_delay_s: int
    rules: tuple[Threshold, ...]
    skipped_suites: tuple[str, ...] = field(default=())

    def abort_rules(self) -> list[dict]:
        """Rules the load engine evaluates while running; one dict per (threshold, window).

        ``window_s`` is the trailing window to evaluate over (``None``: everything so far);
        ``delay_s`` is how long to wait before the first evaluation.
        """
        rules = []
        for rule in self.rules:
            if not rule.abort_on_fail:
                continue
            for window in rule.windows:
                rules.append(
                    {
                        "suite": rule.suite,
                        "class_name": rule.class_name,
                        "metric": rule.metric,
                        "operator": rule.operator,
                        "limit": rule.limit,
                        "window": window,
                        "window_s": window_seconds(window),
                        "delay_s": self.abort_delay_s,
                    }
                )
        return rules

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rules"] = [asdict(rule) | {"windows": list(rule.windows)} for rule in self.rules]
        data["classes"], data["skipped_suites"] = list(self.classes), list(self.skipped_suites)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Thresholds:
        rules = tuple(Threshold(**rule | {"windows": tuple(rule["windows"])}) for rule in data["rules"])
        return cls(
            **data
            | {
                "rules": rules,
                "classes": tuple(data["classes"]),
                "skipped_suites": tuple(data["skipped_suites"]),
            }
        )


def window_seconds(window: str) -> int | None:
    """Length of a rolling or per-second window in seconds; ``None`` for whole-run and steady state."""
    if window == SECOND:
        return 1
    if window.startswith("rolling_"):
        return int(window[len("rolling_") : -1])
    return None


def load_thresholds(
    path: str | Path | None = None,
    overrides: dict | str | None = None,
    profile: str | None = None,
    target: str | None = None,
) -> Thresholds:
    """Read, check and resolve the threshold file for a run of ``profile`` against ``target``."""
    path = Path(path) if path is not None else DEFAULT_PATH
    source = str(path)
    document = _read_yaml(path)
    data = document.data
    p = _Parser(source, document=document)
    p.check_keys("(top level)", data, _TOP_KEYS)
    if data.get("version", 1) != 1:
        raise p.fail("version", data.get("version"), "only version 1 is known")
    classes = p.classes(data.get("classes"))
    rolling_s = p.duration("rolling_window", data.get("rolling_window", 30))
    abort_delay_s = p.duration("abort_delay", data.get("abort_delay", rolling_s), minimum=0)
    p.known_classes, p.rolling_s = set(classes) | {TOTAL_CLASS}, rolling_s

    known_profiles = _profile_names(path.parent / "profiles.yaml")
    suites = p.mapping("suites", data.get("suites"), required=True)
    suite_profiles: dict[str, tuple[str, ...] | None] = {}
    rules: list[Threshold] = []
    for name, suite in suites.items():
        where = f"suites.{name}"
        p.name(where, name)
        if name == OVERRIDE_SUITE:
            raise p.fail(where, name, f"the suite name {OVERRIDE_SUITE!r} is reserved")
        suite = p.mapping(where, suite, required=True)
        p.check_keys(where, suite, _SUITE_KEYS)
        windows = p.windows(f"{where}.windows", suite.get("windows", [WHOLE]))
        suite_profiles[name] = (
            p.profile_names(f"{where}.profiles", suite["profiles"], known_profiles) if "profiles" in suite else None
        )
        by_class = p.mapping(f"{where}.thresholds", suite.get("thresholds"), required=True)
        for key, metrics in by_class.items():
            class_name = p.class_name(f"{where}.thresholds.{key}", key)
            selected = parse_selector(key) is not None  # a selector is judged over the whole run
            for metric, spec in p.mapping(f"{where}.thresholds.{key}", metrics, required=True).items():
                rule = p.threshold(
                    f"{where}.thresholds.{key}.{metric}",
                    name,
                    class_name,
                    metric,
                    spec,
                    (WHOLE,) if selected else windows,
                )
                rules.append(rule)

    for section, key in (("profiles", profile), ("targets", target)):
        per_name = p.mapping(section, data.get(section))
        for name, block in per_name.items():
            if not isinstance(name, str) or not name.strip():
                raise p.fail(f"{section}.{name}", name, "expected a non-empty name")
            if section == "profiles" and known_profiles is not None and name not in known_profiles:
                raise p.fail(
                    f"profiles.{name}", name, f"unknown profile; profiles.yaml has {', '.join(sorted(known_profiles))}"
                )
            changes = p.overrides(f"{section}.{name}", block)
            if name in _aliases(key):
                rules = _apply(p, rules, changes)
    if overrides is not None:
        run = _Parser("overrides (run parameters)", p.known_classes, rolling_s)
        rules = _apply(run, rules, run.overrides("overrides", _as_mapping(run, overrides)))

    skipped = tuple(
        f"{name} (applies to profiles {', '.join(allowed)}; this run's profile is {profile or 'not given'})"
        for name, allowed in suite_profiles.items()
        if allowed is not None and profile not in allowed
    )
    active = tuple(r for r in rules if suite_profiles.get(r.suite) is None or profile in suite_profiles[r.suite])
    return Thresholds(source, profile, target, classes, rolling_s, abort_delay_s, active, skipped)


def _read_yaml(path: Path) -> Document:
    document = read_yaml(path)
    if not isinstance(document.data, dict):
        raise ThresholdConfigError(
            str(path), "(top level)", document.data, "expected a mapping with a 'suites' key", document
        )
    return document


def _aliases(name: str | None) -> set[str]:
    """What a ``targets`` key may match: the target as given, or its host:port or host when it is a URL."""
    if not name:
        return set()
    url = urlparse(name)
    return {name, url.netloc, url.hostname or ""} - {""}


def _profile_names(path: Path) -> set[str] | None:
    """Profile names from the ``profiles.yaml`` beside the threshold file, if there is one."""
    try:
        profiles = read_yaml(path).data["profiles"]
    except (ConfigError, TypeError, KeyError):
        return None  # no usable profiles.yaml: the load engine reports its own problems
    return set(profiles) if isinstance(profiles, dict) else None


def _as_mapping(p: _Parser, overrides: dict | str) -> dict:
    if isinstance(overrides, str):
        try:
            overrides = json.loads(overrides) if overrides.strip() else {}
        except json.JSONDecodeError as exc:
            raise ThresholdConfigError(p.source, "overrides", overrides, f"not valid JSON: {exc.msg}") from exc
    return p.mapping("overrides", overrides)


def _apply(p: _Parser, rules: list[Threshold], changes: list[tuple[str, str, str, object]]) -> list[Threshold]:
    """Apply ``(field, class_name, metric, spec)`` changes: replace matching limits, drop on ``None``, else add."""
    for where, class_name, metric, spec in changes:
        matching = [r for r in rules if r.class_name == class_name and r.metric == metric]
        if spec is None:
            rules = [r for r in rules if r not in matching]
        elif matching:
            rules = [
                p.threshold(where, r.suite, class_name, metric, spec, r.windows, base=r) if r in matching else r
                for r in rules
            ]
        else:
            rules.append(p.threshold(where, OVERRIDE_SUITE, class_name, metric, spec, OVERRIDE_WINDOWS))
    return rules


class _Parser:
    """Field checks that raise ``ThresholdConfigError`` against one source."""

    def __init__(
        self, source: str, known_classes: set[str] | None = None, rolling_s: int = 30, document: Document | None = None
    ) -> None:
        self.source, self.known_classes, self.rolling_s = source, known_classes or set(), rolling_s
        self.document = document  # the threshold file; None: run parameters, whose values errors may repeat

    def fail(self, where: str, value: object, problem: str) -> ThresholdConfigError:
        return ThresholdConfigError(self.source, where, value, problem, self.document)

    def check_keys(self, where: str, data: dict, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(
                    f"{where}.{key}" if where != "(top level)" else str(key),
                    key,
                    f"unknown key; allowed: {', '.join(sorted(allowed))}",
                )

    def mapping(self, where: str, value: object, required: bool = False) -> dict:
        if value is None and not required:
            return {}
        if not isinstance(value, dict) or (required and not value):
            raise self.fail(where, value, "expected a non-empty mapping" if required else "expected a mapping")
        return value

    def name(self, where: str, value: object) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.fail(where, value, "expected a name of letters, digits, '_', '-' or '.'")
        return value

    def names(self, where: str, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, value, "expected a non-empty list of names")
        return tuple(self.name(f"{where}[{i}]", item) for i, item in enumerate(value))

    def classes(self, value: object) -> tuple[str, ...]:
        classes = self.names("classes", value)
        if TOTAL_CLASS in classes:
            raise self.fail("classes", TOTAL_CLASS, f"{TOTAL_CLASS!r} (the run total) is implicit; do not list it")
        return classes

    def class_name(self, where: str, value: object) -> str:
        try:
            selector = parse_selector(value)
        except ValueError as exc:
            raise self.fail(where, value, str(exc)) from None
        if selector is not None:
            return label(selector)
        if value not in self.known_classes:
            raise self.fail(
                where,
                value,
                f"unknown class; known: {', '.join(sorted(self.known_classes))} (declare your own under 'classes')",
            )
        return value

    def duration(self, where: str, value: object, minimum: int = 1) -> int:
        try:
            return parse_duration_s(value, minimum)
        except ValueError as exc:
            raise self.fail(where, value, str(exc)) from exc

    def windows(self, where: str, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, value, "expected a non-empty list of windows")
        return tuple(dict.fromkeys(self.window(f"{where}[{i}]", item) for i, item in enumerate(value)))

    def window(self, where: str, value: object) -> str:
        if value in (WHOLE, STEADY, SECOND):
            return value
        if value == "rolling":
            return f"rolling_{self.rolling_s}s"
        if isinstance(value, str) and value.startswith("rolling_"):
            try:
                return f"rolling_{parse_duration_s(value[len('rolling_') :])}s"
            except ValueError as exc:
                raise self.fail(where, value, f"bad rolling window length: {exc}") from exc
        raise self.fail(where, value, "unknown window; use whole, steady, second, rolling or rolling_<duration>")

    def flag(self, where: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, value, "expected true or false")
        return value

    def threshold(
        self,
        where: str,
        suite: str,
        class_name: str,
        metric: str,
        spec: object,
        windows: tuple[str, ...],
        base: Threshold | None = None,
    ) -> Threshold:
        if metric not in METRICS:
            raise self.fail(where, metric, f"unknown metric; known: {', '.join(METRICS)}")
        options = self.mapping(where, spec) if isinstance(spec, dict) else {"limit": spec}
        self.check_keys(where, options, _SPEC_KEYS)
        if "limit" not in options:
            raise self.fail(where, spec, "a threshold needs a 'limit'")
        try:
            operator, limit = parse_limit(metric, options["limit"])
        except ValueError as exc:
            raise self.fail(f"{where}.limit" if isinstance(spec, dict) else where, options["limit"], str(exc)) from exc
        if "windows" in options:
            windows = self.windows(f"{where}.windows", options["windows"])
        if SECOND in windows and metric not in SECOND_METRICS:
            raise self.fail(where, metric, f"the per-second window has only {', '.join(SECOND_METRICS)}")
        rule = base or Threshold(suite, class_name, metric, operator, limit, windows)
        changes = {"operator": operator, "limit": limit, "windows": windows}
        for key in ("per_endpoint", "abort_on_fail"):
            if key in options:
                changes[key] = self.flag(f"{where}.{key}", options[key])
        return replace(rule, **changes)

    def overrides(self, where: str, block: object) -> list[tuple[str, str, str, object]]:
        """Flatten ``{class_name: {metric: spec}}`` or ``{"class_name.metric": spec}`` into checked changes."""
        changes = []
        for key, value in self.mapping(where, block).items():
            if isinstance(key, str) and "." in key:
                class_name, metric = key.split(".", 1)
                self.class_name(f"{where}.{key}", class_name)
                pairs = [(f"{where}.{key}", metric, value)]
            else:
                class_name = self.class_name(f"{where}.{key}", key)
                per_metric = self.mapping(f"{where}.{key}", value, required=True)
                pairs = [(f"{where}.{key}.{metric}", metric, spec) for metric, spec in per_metric.items()]
            for field_name, metric, spec in pairs:
                if metric not in METRICS:
                    raise self.fail(field_name, metric, f"unknown metric; known: {', '.join(METRICS)}")
                changes.append((field_name, class_name, metric, spec))
        return changes

    def profile_names(self, where: str, value: object, known: set[str] | None) -> tuple[str, ...]:
        names = self.names(where, value)
        for i, name in enumerate(names):
            if known is not None and name not in known:
                raise self.fail(f"{where}[{i}]", name, f"unknown profile; profiles.yaml has {', '.join(sorted(known))}")
        return names
