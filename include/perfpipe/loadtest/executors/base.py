"""What every executor shares: its typed config's common fields, the load ``Plan`` it turns into, and
a validation that collects every problem before refusing (as k6's ``lib/executor`` configs do).

An executor config is a pydantic model; field types and ranges are checked by pydantic (all at
once), then ``problems()`` lists every cross-field problem; any problem refuses the config with
all of them joined by ``"; "``.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import asdict, dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator

from include.perfpipe.durations import parse_duration


def seconds(value, where: str = "duration") -> float:
    return parse_duration(value, where)


@dataclass(frozen=True)
class Plan:
    """How one scenario's load is applied, in the engine's terms.

    ``model`` closed: ``start`` and stage targets are VUs; open: iterations per second, ``max_vus``
    caps the VUs running them. ``per_vu_iterations``: each VU runs exactly that many iterations;
    ``shared_iterations``: the scenario's VUs share that many in total. Iterations end a VU early;
    the stages' length is then the scenario's maximum duration.
    """

    model: str
    start: float
    stages: list[dict]  # [{"duration_s", "target"}]
    max_vus: int
    per_vu_iterations: int | None = None
    shared_iterations: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return sum(s["duration_s"] for s in self.stages)

    def to_dict(self) -> dict:
        return asdict(self)


class Stage(BaseModel):
    """``{duration, target}``: ramp linearly to ``target`` over ``duration``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duration: float = Field(ge=0)
    target: float = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _duration(cls, raw):
        if isinstance(raw, dict) and "duration" in raw:
            return {**raw, "duration": seconds(raw["duration"], "duration")}
        return raw

    def as_plan(self) -> dict:
        return {"duration_s": self.duration, "target": self.target}


class ExecutorConfig(BaseModel):
    """Common to every executor; subclasses add their fields, ``problems()`` and ``plan()``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _durations(cls, raw):
        """Duration fields (``*duration``, ``time_unit``) accept ``30s``, ``1m``, ``500ms`` or seconds."""
        if not isinstance(raw, dict):
            return raw
        out = dict(raw)
        for key, value in raw.items():
            if key in cls.model_fields and (key.endswith("duration") or key == "time_unit") and value is not None:
                with suppress(ValueError):  # pydantic then reports the field with its value
                    out[key] = seconds(value, key)
        return out

    @model_validator(mode="after")
    def _every_problem(self):
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        """Every problem of this config (empty when it is valid)."""
        return []

    def plan(self) -> Plan:  # pragma: no cover - every executor defines it
        raise NotImplementedError


def positive(value: float, name: str) -> list[str]:
    return [] if value > 0 else [f"{name} must be more than 0, got {value:g}"]


def max_vus_problems(max_vus: int | None, needed: int, name: str) -> list[str]:
    if max_vus is not None and max_vus < needed:
        return [f"max_vus ({max_vus}) must be at least {name} ({needed})"]
    return []
