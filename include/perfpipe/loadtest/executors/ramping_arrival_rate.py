"""``ramping_arrival_rate``: iterations started at a rate ramped through stages, whatever the responses
do (the open model, k6 ramping-arrival-rate); an iteration finding all ``max_vus`` busy is dropped
and counted."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from include.perfpipe.loadtest.executors.base import ExecutorConfig, Plan, Stage, positive


class RampingArrivalRate(ExecutorConfig):
    executor: Literal["ramping_arrival_rate"] = "ramping_arrival_rate"
    start_rate: float = Field(0, ge=0)
    time_unit: float = 1.0  # the rates are iterations per time_unit
    stages: list[Stage]
    max_vus: int

    def problems(self) -> list[str]:
        problems = positive(self.time_unit, "time_unit") + positive(self.max_vus, "max_vus")
        if not self.stages:
            problems.append("stages must hold at least one {duration, target}")
        elif sum(s.duration for s in self.stages) <= 0:
            problems.append("the stages must last longer than 0 s in total")
        return problems

    def plan(self) -> Plan:
        per_s = 1.0 / self.time_unit
        stages = [{"duration_s": s.duration, "target": s.target * per_s} for s in self.stages]
        return Plan("open", self.start_rate * per_s, stages, self.max_vus)
