"""What a run asks of the load: one profile of ``profiles.yaml`` and the run's overrides (DAG Params, CLI flags),
as typed models. ``load_spec`` reads them into a ``LoadSpec``.

Every wrong field is named at once on one line: an override with its value (the user's own), a profile's field
with its kind and line (``config_files``: a file's values are never repeated).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError, field_validator

from include.perfpipe.config_files import Document
from include.perfpipe.durations import Seconds
from include.perfpipe.errors import ConfigError, from_validation, without_value
from include.perfpipe.loadtest.engine.abort_rules import AbortRule, CircuitBreaker
from include.perfpipe.loadtest.http.redirects import MAX_REDIRECTS
from include.perfpipe.loadtest.journey.models import ThinkTime

MAX_TIMEOUT_S = 600.0


def _number_from(minimum: float):
    def number(value: object) -> float:
        if not isinstance(value, bool):
            try:
                number = float(value)
            except (TypeError, ValueError):
                pass
            else:
                if number == number and abs(number) != float("inf") and number >= minimum:
                    return number
        raise ValueError(f"expected a number >= {minimum:g}")

    return number


Level = Annotated[float, BeforeValidator(_number_from(0))]  # VUs, or iterations per second
AtLeastOne = Annotated[float, BeforeValidator(_number_from(1))]


class Stage(BaseModel):
    """``{duration, target}``: ramp linearly to ``target`` over ``duration``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    duration: Seconds
    target: Level = 0.0

    def level(self) -> dict:
        return {"duration_s": self.duration, "target": self.target}


Stages = Annotated[list[Stage], Field(min_length=1)]


class Profile(BaseModel):
    """One profile of ``profiles.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: Literal["closed", "open"] = "closed"
    start: Level = 0.0
    stages: Stages
    max_vus: AtLeastOne = 100  # the open model's cap on VUs in flight


def check_timeout(value: float) -> float:
    if not 0 < value <= MAX_TIMEOUT_S:
        raise ValueError(f"expected more than 0 s and at most {MAX_TIMEOUT_S:g} s")
    return value


def _redirects(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REDIRECTS:
        raise ValueError(f"expected a whole number from 0 to {MAX_REDIRECTS}")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


Flag = Annotated[StrictBool, BeforeValidator(_flag)]
Redirects = Annotated[int, BeforeValidator(_redirects)]


class LoadOverrides(BaseModel):
    """The run's overrides; see ``load_spec`` for what each does."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    vus: Level | None = None
    duration: Seconds | None = None
    rate: Level | None = None
    max_vus: AtLeastOne | None = None
    stages: Stages | None = None
    start: Level | None = None
    model: Literal["closed", "open"] | None = None
    think_time: ThinkTime | None = None
    timeout: Seconds | None = None
    abort_rules: list[AbortRule] = []
    circuit_breaker: CircuitBreaker | None = CircuitBreaker()  # None: off
    loop_lag_bound_ms: Level = 50.0
    progress_interval: Seconds = 5.0
    verify_tls: Flag = True
    max_body_bytes: AtLeastOne | None = None
    live_metrics: str | int | bool | None = None
    max_redirects: Redirects | None = None
    cookies: Flag | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout_range(cls, value: float | None) -> float | None:
        return None if value is None else check_timeout(value)

    @field_validator("circuit_breaker", mode="before")
    @classmethod
    def _off(cls, value):
        return None if value in ({}, False) else value  # {} or false: no circuit breaker

    @field_validator("think_time", mode="before")
    @classmethod
    def _no_pause(cls, value):
        return value or 0  # an empty Param: no pause


def load_overrides(raw: dict) -> tuple[LoadOverrides, set[str]]:
    """The checked overrides and the names given (an absent one and ``None`` are alike)."""
    given = {key: value for key, value in raw.items() if value is not None}
    try:
        return LoadOverrides.model_validate(given), set(given)
    except ValidationError as exc:
        raise ConfigError("; ".join(_override_problem(problem) for problem in exc.errors())) from None


def _override_problem(problem: dict) -> str:
    """``field: message, got value``: an override is the user's own, so its value is shown."""
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"]).lstrip(".")
    if problem["type"] == "extra_forbidden":
        return f"{field}: unknown override; known: {', '.join(LoadOverrides.model_fields)}"
    message = without_value(problem["msg"].removeprefix("Value error, "))
    return f"{field}: required" if problem["type"] == "missing" else f"{field}: {message}, got {problem.get('input')!r}"


def profile_of(profiles: dict, name: str, document: Document) -> Profile:
    """Profile ``name`` of the file ``document``, checked."""
    if name not in profiles:
        raise ConfigError(f"profile: unknown profile {name!r}; known: {sorted(profiles)}")
    try:
        return Profile.model_validate(profiles[name])
    except ValidationError as exc:
        raise from_validation(exc, file=document.path, prefix=f"profiles.{name}", document=document) from None
