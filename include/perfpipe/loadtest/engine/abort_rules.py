"""Abort rules: what stops a load test before its end, typed as the run contract carries them.

validation's ``Thresholds.abort_rules()`` writes one per ``abort_on_fail`` threshold and window; the engine's
guard and k6's sample reader check them every second (``loadtest.engine.guard.breached``). The test passes while
``metric operator limit`` holds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from include.perfpipe.durations import Seconds
from include.perfpipe.errors import ConfigError, kind, without_value
from include.perfpipe.metric_names import LIVE_METRICS
from include.perfpipe.vocabulary import OPERATORS


def _not_a_flag(value):
    if isinstance(value, bool):  # pydantic would take true for 1.0
        raise ValueError("expected a number")
    return value


class AbortRule(BaseModel):
    """One rule. ``window_s`` None: everything since the start, else a trailing window of at least 1 s;
    ``delay_s`` (default: the window) before it is first judged."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # Thresholds also hands its "window" label

    suite: str | None = None
    class_name: Annotated[str, BeforeValidator(str)] = "all"
    metric: Literal[LIVE_METRICS]
    operator: Literal[OPERATORS] = "<"
    limit: Annotated[float, BeforeValidator(_not_a_flag), Field(ge=0, allow_inf_nan=False)]
    window_s: Seconds | None = None
    delay_s: Seconds | None = None

    def normalised(self) -> dict:
        window_s = None if self.window_s is None else max(1.0, self.window_s)
        delay_s = (window_s or 0.0) if self.delay_s is None else self.delay_s
        return {**self.model_dump(), "window_s": window_s, "delay_s": delay_s}


class _AbortRules(BaseModel):
    abort_rules: list[AbortRule]


def abort_rules(rules: list[dict]) -> list[dict]:
    """Checked abort rules as plain dicts (``{suite, class_name, metric, operator, limit, window_s, delay_s}``);
    every wrong field in one ConfigError line."""
    try:
        checked = _AbortRules.model_validate({"abort_rules": rules}).abort_rules
    except ValidationError as exc:
        raise ConfigError("; ".join(_problem(problem) for problem in exc.errors())) from None
    return [rule.normalised() for rule in checked]


def _problem(problem: dict) -> str:
    """``abort_rules[i].field: message, got value``: the rules come from a CLI flag, a form or the thresholds'
    numbers, so a scalar is shown as it is (a container by its kind)."""
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"]).lstrip(".")
    text = f"{field}: {without_value(problem['msg'].removeprefix('Value error, '))}"
    if problem["type"] == "missing":
        return text
    value = problem.get("input")
    return f"{text}, got {value!r}" if isinstance(value, str | int | float | None) else f"{text}, got {kind(value)}"
