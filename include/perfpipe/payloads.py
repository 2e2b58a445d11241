"""The shapes handed from task to task (XCom-sized JSON dicts), checked where a task receives them.

``checked(Model, value, "plan")`` validates and returns ``value`` as it is; a wrong shape raises a
ValueError naming the field (``plan.shards[1].count: ...``) instead of a KeyError tasks later. The
models describe the keys the receiving tasks read; other keys pass through. docs/architecture.md
lists the payloads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from include.perfpipe.validation.verdict import Verdict
from include.perfpipe.vocabulary import DEFAULT_ENGINE


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", strict=False)


class ReportedRun(_Payload):
    """The least a report needs to name its run."""

    dag_id: str = Field(min_length=1)
    run_id: str = Field(min_length=1)


class RunIdentity(ReportedRun):
    """Which run this is, as preflight plans it and the store records it (``plan["run"]``)."""

    profile: str = Field(min_length=1)
    target: str = Field(min_length=1)
    version: str | None = None
    started_at: str | None = None


class ShardSlot(_Payload):
    """One mapped load_test task: its index among ``count`` and the common start (epoch seconds)."""

    index: int = Field(ge=0)
    count: int = Field(ge=1)
    start_at: float | None = None

    @model_validator(mode="after")
    def _index_below_count(self) -> ShardSlot:
        if self.index >= self.count:
            raise ValueError(f"index {self.index} is not below count {self.count}")
        return self


class PlannedRun(_Payload):
    """What publish reads of preflight's output: the run."""

    run: RunIdentity


class RunPlan(PlannedRun):
    """preflight's output: the run, the load spec (``LoadSpec.to_dict()``), the engine that runs it
    (``runs.engine_registry.ENGINES``) and the shards to map over."""

    spec: dict[str, Any]
    engine: str = DEFAULT_ENGINE
    shards: list[ShardSlot] = Field(min_length=1)


class Stage(_Payload):
    start_s: float
    end_s: float
    kind: Literal["ramp", "hold"]


class LoadResultPayload(_Payload):
    """``LoadResult.to_dict()`` of a shard (with ``shard``) or of the merged run (with ``shards``)."""

    spec: dict[str, Any]
    duration_s: float = Field(ge=0)
    metrics: dict[str, Any]
    stages: list[Stage]
    health: dict[str, Any]
    aborted: bool = False
    abort_reason: str | None = None


class ValidationPayload(_Payload):
    """``ValidationResult.to_dict()``, the validate task's output."""

    verdict: Verdict
    reason: str
    results: list[dict[str, Any]] = []


class Publication(_Payload):
    """The publish task's output, read by the verdict task."""

    verdict: Verdict
    reason: str
    report_url: str
    run_id: str
    regressed: bool
    regression_reason: str | None = None


class RunBundle(_Payload):
    """Everything one run produced, as the report renders it and ``bundle.json`` keeps it."""

    run: ReportedRun
    loadtest: LoadResultPayload | None = None
    validation: ValidationPayload | None = None
    database: dict[str, Any] | None = None
    regression: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None


def checked(model: type[BaseModel], value: Any, where: str) -> Any:
    """``value`` unchanged when it has ``model``'s shape; else a ValueError naming the first wrong field."""
    try:
        model.model_validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        raise ValueError(f"{where}{field}: {error['msg']}, got {_shown(error.get('input'))}") from None
    return value


def _shown(value: Any) -> str:
    """A scalar as it is, a container by its type only (a payload may carry values not meant for logs)."""
    if isinstance(value, (dict, list, tuple)):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
