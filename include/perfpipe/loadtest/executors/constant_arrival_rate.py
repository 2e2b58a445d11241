"""``constant_arrival_rate``: ``rate`` iterations per ``time_unit`` for ``duration`` (k6
constant-arrival-rate); an iteration finding all ``max_vus`` busy is dropped and counted."""

from __future__ import annotations

from typing import Literal

from include.perfpipe.loadtest.executors.base import ExecutorConfig, Plan, positive


class ConstantArrivalRate(ExecutorConfig):
    executor: Literal["constant_arrival_rate"] = "constant_arrival_rate"
    rate: float
    time_unit: float = 1.0
    duration: float
    max_vus: int

    def problems(self) -> list[str]:
        return (
            positive(self.rate, "rate")
            + positive(self.time_unit, "time_unit")
            + positive(self.duration, "duration")
            + positive(self.max_vus, "max_vus")
        )

    def plan(self) -> Plan:
        rate = self.rate / self.time_unit
        return Plan("open", rate, [{"duration_s": self.duration, "target": rate}], self.max_vus)
