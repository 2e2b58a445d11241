"""``ramping_vus``: the closed model's stages, VUs ramped linearly from ``start_vus`` (k6 ramping-vus)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from include.perfpipe.loadtest.executors.base import ExecutorConfig, Plan, Stage


class RampingVUs(ExecutorConfig):
    executor: Literal["ramping_vus"] = "ramping_vus"
    start_vus: int = Field(0, ge=0)
    stages: list[Stage]

    def problems(self) -> list[str]:
        problems = []
        if not self.stages:
            problems.append("stages must hold at least one {duration, target}")
        elif sum(s.duration for s in self.stages) <= 0:
            problems.append("the stages must last longer than 0 s in total")
        for i, stage in enumerate(self.stages):
            if stage.target != int(stage.target):
                problems.append(f"stages[{i}].target must be a whole number of VUs, got {stage.target:g}")
        return problems

    def plan(self) -> Plan:
        peak = max([self.start_vus] + [int(s.target) for s in self.stages])
        return Plan("closed", float(self.start_vus), [s.as_plan() for s in self.stages], peak)
