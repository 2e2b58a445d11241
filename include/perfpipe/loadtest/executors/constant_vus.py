"""``constant_vus``: ``vus`` VUs for ``duration`` (k6 constant-vus)."""

from __future__ import annotations

from typing import Literal

from include.perfpipe.loadtest.executors.base import ExecutorConfig, Plan, positive


class ConstantVUs(ExecutorConfig):
    executor: Literal["constant_vus"] = "constant_vus"
    vus: int
    duration: float

    def problems(self) -> list[str]:
        return positive(self.vus, "vus") + positive(self.duration, "duration")

    def plan(self) -> Plan:
        return Plan("closed", float(self.vus), [{"duration_s": self.duration, "target": float(self.vus)}], self.vus)
