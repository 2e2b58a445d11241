"""Abort rules and the circuit breaker: what stops a load test before its end, typed as the run contract
(``LoadSpec``, ``QuerySpec``) carries them.

validation's ``Thresholds.abort_rules()`` writes one rule per ``abort_on_fail`` threshold and window; the engine's
guard and k6's sample reader check them every second (``loadtest.engine.guard.breached``). The test passes while
``metric operator limit`` holds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from include.perfpipe.durations import Seconds
from include.perfpipe.errors import ConfigError, kind, without_value
from include.perfpipe.metric_names import LIVE_METRICS
from include.perfpipe.vocabulary import OPERATORS


def _not_a_flag(value):
    if isinstance(value, bool):  # pydantic would take true for 1.0
        raise ValueError("expected a number")
    return value


Figure = Annotated[float, BeforeValidator(_not_a_flag), Field(ge=0, allow_inf_nan=False)]


class AbortRule(BaseModel):
    """One rule. ``window_s`` None: everything since the start, else a trailing window of at least 1 s;
    ``delay_s`` (default: the window) before it is first judged."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # Thresholds also hands its "window" label

    suite: str | None = None
    class_name: Annotated[str, BeforeValidator(str)] = "all"
    metric: Literal[LIVE_METRICS]
    operator: Literal[OPERATORS] = "<"
    limit: Figure
    window_s: Seconds | None = None
    delay_s: Seconds | None = None

    def normalised(self) -> AbortRule:
        """The rule as the guard judges it: a window of at least 1 s, ``delay_s`` set (the window, or 0)."""
        window_s = None if self.window_s is None else max(1.0, self.window_s)
        delay_s = (window_s or 0.0) if self.delay_s is None else self.delay_s
        return self.model_copy(update={"window_s": window_s, "delay_s": delay_s})


NormalisedRule = Annotated[AbortRule, AfterValidator(AbortRule.normalised)]  # the run contract's form


class CircuitBreaker(BaseModel):
    """Stops a run whose errors exceed ``error_rate`` over ``window_s`` with at least ``min_requests`` requests."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    error_rate: Figure = 0.5
    window_s: Seconds = Field(10.0, alias="window")
    min_requests: Figure = 50


class _StopRules(BaseModel):
    abort_rules: list[NormalisedRule] = []
    circuit_breaker: CircuitBreaker | None = None


def stop_rules(rules: list, breaker: object) -> tuple[list[AbortRule], CircuitBreaker | None]:
    """Abort rules (checked, normalised) and circuit breaker from dicts or models; every wrong field in one
    ConfigError line."""
    try:
        checked = _StopRules.model_validate({"abort_rules": rules, "circuit_breaker": breaker})
    except ValidationError as exc:
        raise ConfigError("; ".join(_problem(problem) for problem in exc.errors())) from None
    return checked.abort_rules, checked.circuit_breaker


def abort_rules(rules: list) -> list[AbortRule]:
    """``stop_rules`` without a breaker."""
    return stop_rules(rules, None)[0]


def _problem(problem: dict) -> str:
    """``abort_rules[i].field: message, got value``: the rules come from a CLI flag, a form or the thresholds'
    numbers, so a scalar is shown as it is (a container by its kind)."""
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"]).lstrip(".")
    text = f"{field}: {without_value(problem['msg'].removeprefix('Value error, '))}"
    if problem["type"] == "missing":
        return text
    value = problem.get("input")
    return f"{text}, got {value!r}" if isinstance(value, str | int | float | None) else f"{text}, got {kind(value)}"
