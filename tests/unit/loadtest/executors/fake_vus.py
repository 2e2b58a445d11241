"""A client of the executors with no network: its VUs' iterations end when the test says, and it logs what the
executor asked of it."""

import asyncio
from dataclasses import dataclass
from time import perf_counter

from include.perfpipe.loadtest.contract import Staged
from include.perfpipe.loadtest.executors.base import Plan
from include.perfpipe.metrics import MetricsRecorder


@dataclass
class Spec(Staged):
    """What an executor reads of a spec, from an executor config's plan."""

    model: str
    start: float
    stages: list
    max_vus: int
    per_vu_iterations: int | None
    shared_iterations: int | None
    start_time_s: float = 0.0

    @classmethod
    def of(cls, plan: Plan) -> "Spec":
        return cls(plan.model, plan.start, plan.stages, plan.max_vus, plan.per_vu_iterations, plan.shared_iterations)


class VU:
    def __init__(self, number: int) -> None:
        self.number, self.retired = number, False


class FakeVUs:
    """``iteration_s``: how long each iteration takes (None: it never ends by itself); ``outcome``: what it ends
    with. ``log``: ``(what, vu number)`` for each ``enter``, ``iterate``, ``leave`` and ``vu_stopped``."""

    def __init__(self, plan: Plan, executor_class, iteration_s=0.01, outcome="ok", pacing_s=0.0):
        self.spec, self.index, self.count = Spec.of(plan), 0, 1
        self.iteration_s, self.outcome, self.pacing_s = iteration_s, outcome, pacing_s
        self.stopping, self.dropped = False, 0
        self.rec = MetricsRecorder()
        self.log: list[tuple[str, int]] = []
        self.starts: list[float] = []
        self.executor = executor_class(self)

    async def run_for(self, seconds: float) -> None:
        """The executor runs ``seconds``, followed every 10 ms as the control loop does, then the run ends and
        the iterations in flight (those that end by themselves) end, within 2 s."""
        self.loop = asyncio.get_running_loop()
        self.t0 = perf_counter()
        self.t_end = self.t0 + seconds
        self.executor.begin()
        while perf_counter() < self.t_end and not self.executor.finished():
            self.executor.adjust(perf_counter() - self.t0)
            await asyncio.sleep(0.01)
        await self.executor.sent()
        self.stopping = True
        self.executor.end()
        drained_by = perf_counter() + 2.0
        while self.iteration_s is not None and self.executor.active() and perf_counter() < drained_by:
            await asyncio.sleep(0.01)

    def spawn(self, coro) -> asyncio.Task:
        return self.loop.create_task(coro)

    def count_of(self, what: str) -> int:
        return sum(1 for w, _ in self.log if w == what)

    # -- the VUs interface -------------------------------------------------------------------------
    def new_vu(self, i: int) -> VU:
        return VU(i)

    def enter(self, vu: VU) -> bool:
        self.log.append(("enter", vu.number))
        return True

    def iterate(self, vu: VU, start: float, due: float) -> None:
        self.log.append(("iterate", vu.number))
        self.starts.append(start)
        if self.iteration_s is not None:
            self.loop.call_later(self.iteration_s, self.executor.ended, vu, self.outcome, due)

    def leave(self, vu: VU) -> None:
        self.log.append(("leave", vu.number))

    def vu_stopped(self, vu: VU) -> None:
        self.log.append(("vu_stopped", vu.number))

    def dropped_label(self) -> tuple[str, str]:
        return "iteration", "api"
