"""``shared_iterations``: ``iterations`` iterations in total, shared by ``vus`` VUs, each taking the
next one as soon as it is free (k6 shared-iterations), unless ``max_duration`` ends them first.
Across processes and shards each part owns a fixed share, so the total is done exactly once."""

from __future__ import annotations

from typing import Literal

from include.perfpipe.loadtest.executors.base import ExecutorConfig, Plan, positive


class SharedIterations(ExecutorConfig):
    executor: Literal["shared_iterations"] = "shared_iterations"
    vus: int = 1
    iterations: int = 1
    max_duration: float = 600.0

    def problems(self) -> list[str]:
        problems = positive(self.vus, "vus") + positive(self.iterations, "iterations")
        problems += positive(self.max_duration, "max_duration")
        if 0 < self.iterations < self.vus:
            problems.append(f"iterations ({self.iterations}) must be at least vus ({self.vus})")
        return problems

    def plan(self) -> Plan:
        stages = [{"duration_s": self.max_duration, "target": float(self.vus)}]
        return Plan("closed", float(self.vus), stages, self.vus, shared_iterations=self.iterations)


def part_iterations(total: int, vus: int, index: int, count: int) -> int:
    """The iterations part ``index`` of ``count`` owns: the shares of its VUs (global VU ``i`` holds
    ``total // vus`` plus one for the first ``total % vus``; part ``p`` holds VUs ``p, p + count, ...``)."""
    return sum(total // vus + (1 if i < total % vus else 0) for i in range(index, vus, count))
