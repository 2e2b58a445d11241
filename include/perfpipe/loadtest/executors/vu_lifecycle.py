"""The closed model's run, for every client (``constant_vus``, ``ramping_vus``, ``per_vu_iterations``,
``shared_iterations``): the one VU lifecycle. The plan's level of VUs is followed every tick (a VU ramped
down finishes its iteration, then leaves); each VU runs iterations one after the other, at most one every
``pacing_s``, until the run ends, it is ramped down, its iterations budget is spent or it stops.

The executor drives the client's VUs through the engine's interface (``engine.client.VUs``): ``new_vu``,
``enter``, ``iterate``, ``leave``; the client reports each iteration's end with ``ended``. The next
iteration starts in the loop's next pass: every response already read is timed before a new send.
"""

from __future__ import annotations

from time import perf_counter

from include.perfpipe.loadtest.engine.client import CRASHED, OK, RESTART, STOP, VUs
from include.perfpipe.loadtest.engine.generator import share
from include.perfpipe.loadtest.executors.shared_iterations import part_iterations


class VULifecycle:
    def __init__(self, part: VUs) -> None:
        self.part = part
        spec = part.spec
        self.vus: list = []  # this part's VUs at the plan's level, newest last
        self.present: set = set()  # VUs started that have not left
        self.pacing = 0.0
        self.started: dict = {}  # when each VU began its iteration (with pacing only)
        self.waiting: dict = {}  # VU -> the timer of its next paced iteration
        self.per_vu = spec.per_vu_iterations
        self.pool = (
            part_iterations(spec.shared_iterations, spec.max_vus, part.index, part.count)
            if spec.shared_iterations is not None
            else None
        )
        self.done: dict = {}  # iterations each VU ran (per-VU budget only)
        self.budgeted = self.pool is not None or self.per_vu is not None

    def begin(self) -> None:
        self.pacing = self.part.pacing_s
        self.adjust(0.0)

    def adjust(self, elapsed: float) -> None:
        """Grow this part's VUs to its share of the level at ``elapsed``, or retire the newest."""
        part, vus = self.part, self.vus
        want = share(int(round(part.spec.level_at(elapsed))), part.index, part.count)
        while len(vus) < want:
            vus.append(self.start(len(vus)))
        while len(vus) > want:
            vu = vus.pop()
            vu.retired = True
            timer = self.waiting.pop(vu, None)
            if timer is not None:  # pacing: it leaves now
                timer.cancel()
                self.leave(vu)

    def start(self, i: int):
        part = self.part
        vu = part.new_vu(i)
        self.present.add(vu)
        if part.enter(vu):
            self.next(vu)
        else:
            part.vu_stopped(vu)
            self.present.discard(vu)
        return vu

    def take_iteration(self, vu) -> bool:
        """Whether ``vu`` may start another iteration (per-VU or shared iterations left)."""
        if self.pool is not None:
            if self.pool <= 0:
                return False
            self.pool -= 1
        elif self.per_vu is not None:
            done = self.done.get(vu, 0)
            if done >= self.per_vu:
                return False
            self.done[vu] = done + 1
        return True

    def next(self, vu) -> None:
        part, now = self.part, perf_counter()
        if self.pacing:
            self.waiting.pop(vu, None)
            self.started[vu] = now
        if part.stopping or vu.retired or now >= part.t_end or (self.budgeted and not self.take_iteration(vu)):
            self.leave(vu)
        else:
            part.iterate(vu, now, now - part.t0)

    def ended(self, vu, outcome: str, due: float = 0.0) -> None:
        """``vu``'s iteration ended: it starts the next (in the next loop pass, or when its pacing allows), or
        leaves."""
        if outcome != OK and outcome != RESTART:
            if outcome == CRASHED:
                self.present.discard(vu)
                return
            if outcome == STOP:
                self.part.vu_stopped(vu)
            self.leave(vu)  # STOP, ENDED, UNSTARTED
            return
        part = self.part
        if self.pacing:
            wait = self.pacing - (perf_counter() - self.started.pop(vu, 0.0))
            if wait > 0 and not (part.stopping or vu.retired):  # the end of the run cuts the wait (``end``)
                self.waiting[vu] = part.loop.call_later(wait, self.next, vu)
                return
        part.loop.call_soon(self.next, vu)

    def leave(self, vu) -> None:
        if vu in self.present:
            self.present.discard(vu)
            self.part.leave(vu)

    async def sent(self) -> None:
        """Nothing is owed at the end: each VU's iteration in flight finishes in the drain."""

    def end(self) -> None:
        """The end of the run: VUs waiting for their pacing leave now."""
        for vu, timer in list(self.waiting.items()):
            timer.cancel()
            self.leave(vu)
        self.waiting.clear()

    def active(self) -> int:
        return len(self.present)

    def max_conns(self) -> int:
        part = self.part
        return share(part.spec.max_vus, part.index, part.count)

    def finished(self) -> bool:
        """Every VU of an iterations executor has run its iterations (this part may have none)."""
        part = self.part
        if not self.budgeted or self.present or perf_counter() - part.t0 < part.spec.start_time_s:
            return False
        return bool(self.vus) or self.max_conns() == 0
