"""``per_vu_iterations``: each of ``vus`` VUs runs exactly ``iterations`` iterations (k6
per-vu-iterations): ``vus x iterations`` in all, unless ``max_duration`` ends them first."""

from __future__ import annotations

from typing import Literal

from include.perfpipe.loadtest.executors.base import ExecutorConfig, Plan, positive


class PerVUIterations(ExecutorConfig):
    executor: Literal["per_vu_iterations"] = "per_vu_iterations"
    vus: int = 1
    iterations: int = 1
    max_duration: float = 600.0

    def problems(self) -> list[str]:
        return (
            positive(self.vus, "vus")
            + positive(self.iterations, "iterations")
            + positive(self.max_duration, "max_duration")
        )

    def plan(self) -> Plan:
        stages = [{"duration_s": self.max_duration, "target": float(self.vus)}]
        return Plan("closed", float(self.vus), stages, self.vus, per_vu_iterations=self.iterations)
