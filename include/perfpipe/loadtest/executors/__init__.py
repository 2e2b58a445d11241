"""Executors: how a scenario's load is applied, one module each (typed config, validation, plan).

``Executor`` is the discriminated union of every config by its ``executor`` field; ``EXECUTORS``
maps each name to its config class.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from include.perfpipe.loadtest.executors.base import ExecutorConfig, Plan
from include.perfpipe.loadtest.executors.constant_arrival_rate import ConstantArrivalRate
from include.perfpipe.loadtest.executors.constant_vus import ConstantVUs
from include.perfpipe.loadtest.executors.per_vu_iterations import PerVUIterations
from include.perfpipe.loadtest.executors.ramping_arrival_rate import RampingArrivalRate
from include.perfpipe.loadtest.executors.ramping_vus import RampingVUs
from include.perfpipe.loadtest.executors.shared_iterations import SharedIterations

EXECUTORS: dict[str, type[ExecutorConfig]] = {
    cls.model_fields["executor"].default: cls
    for cls in (RampingVUs, ConstantVUs, RampingArrivalRate, ConstantArrivalRate, PerVUIterations, SharedIterations)
}
Executor = Annotated[
    RampingVUs | ConstantVUs | RampingArrivalRate | ConstantArrivalRate | PerVUIterations | SharedIterations,
    Field(discriminator="executor"),
]
EXECUTOR_FIELDS = {name for cls in EXECUTORS.values() for name in cls.model_fields}

__all__ = ["EXECUTORS", "EXECUTOR_FIELDS", "Executor", "ExecutorConfig", "Plan"]
