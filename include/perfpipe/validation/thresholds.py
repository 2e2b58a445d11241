"""Threshold configuration: ``include/config/thresholds.yaml`` read, checked and resolved for one run.

Resolution order: the file's suites, then the file's ``profiles.<profile>`` overrides, then its
``targets.<target>`` overrides, then the run's ``overrides`` (Airflow Params or CLI flags).
Suites that list ``profiles`` apply to those profiles only (capacity targets do not apply to a smoke run).
Every problem raises ``ThresholdConfigError`` naming the file, the field and the value.
See docs/thresholds.md for the schema.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from include.perfpipe.config_files import read_yaml
from include.perfpipe.errors import ConfigError
from include.perfpipe.limits import parse_limit
from include.perfpipe.validation.selectors import label, parse_selector
from include.perfpipe.validation.threshold_models import (
    OVERRIDE_SUITE,
    SECOND,
    STEADY,
    WHOLE,
    Overrides,
    ThresholdSpec,
    resolved_windows,
    run_overrides,
    threshold_file,
)

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "thresholds.yaml"
OVERRIDE_WINDOWS = [WHOLE, STEADY]  # a threshold the run's overrides add


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
    file = threshold_file(read_yaml(path), _profile_names(path.parent / "profiles.yaml"))
    rolling_s = file.rolling_window
    rules = [
        _threshold(name, _class_name(key), metric, spec, resolved_windows(suite.windows_of(key), rolling_s), rolling_s)
        for name, suite in file.suites.items()
        for key, per_metric in suite.thresholds.items()
        for metric, spec in per_metric.items()
    ]
    for section, key in ((file.profiles, profile), (file.targets, target)):
        for name, block in section.items():
            if name in _aliases(key):
                rules = _apply(rules, block, rolling_s)
    if overrides is not None:
        rules = _apply(rules, run_overrides(overrides, file.known_classes), rolling_s)

    suite_profiles = {name: suite.profiles for name, suite in file.suites.items()}
    skipped = tuple(
        f"{name} (applies to profiles {', '.join(allowed)}; this run's profile is {profile or 'not given'})"
        for name, allowed in suite_profiles.items()
        if allowed is not None and profile not in allowed
    )
    active = tuple(r for r in rules if suite_profiles.get(r.suite) is None or profile in suite_profiles[r.suite])
    return Thresholds(str(path), profile, target, tuple(file.classes), rolling_s, file.abort_delay_s, active, skipped)


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


def _apply(rules: list[Threshold], overrides: Overrides, rolling_s: int) -> list[Threshold]:
    """Each change replaces the limit of the matching rules, drops them on ``None``, or else adds a rule."""
    for key, metric, spec in overrides.changes():
        class_name = _class_name(key)
        matching = [r for r in rules if r.class_name == class_name and r.metric == metric]
        if spec is None:
            rules = [r for r in rules if r not in matching]
        elif matching:
            rules = [
                _threshold(r.suite, class_name, metric, spec, r.windows, rolling_s, r) if r in matching else r
                for r in rules
            ]
        else:
            windows = resolved_windows(OVERRIDE_WINDOWS, rolling_s)
            rules.append(_threshold(OVERRIDE_SUITE, class_name, metric, spec, windows, rolling_s))
    return rules


def _class_name(key: str) -> str:
    """The class a threshold key names: the class itself, or a selector's canonical label."""
    selector = parse_selector(key)
    return key if selector is None else label(selector)


def _threshold(
    suite: str,
    class_name: str,
    metric: str,
    spec: ThresholdSpec,
    windows: tuple[str, ...],
    rolling_s: int,
    base: Threshold | None = None,
) -> Threshold:
    """The rule ``spec`` (already checked) makes of ``base``, or of a new rule in ``suite`` over ``windows``."""
    operator, limit = parse_limit(metric, spec.limit)
    windows = resolved_windows(spec.windows, rolling_s) if spec.windows else windows
    rule = base or Threshold(suite, class_name, metric, operator, limit, windows)
    flags = {name: getattr(spec, name) for name in ("per_endpoint", "abort_on_fail") if getattr(spec, name) is not None}
    return replace(rule, operator=operator, limit=limit, windows=windows, **flags)
