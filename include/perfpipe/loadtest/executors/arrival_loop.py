"""The open model's run, for every client (``constant_arrival_rate``, ``ramping_arrival_rate``): the one arrival
loop. Arrivals leave at the plan's rate whatever the responses do; each is one iteration by an idle VU, a new
one (up to ``max_vus``), or, with every VU busy, dropped and counted (k6 dropped_iterations). Latency runs from
the intended time (coordinated omission corrected, as wrk2).

The executor drives the client's VUs through the engine's interface (``engine.client.VUs``): ``new_vu``,
``enter``, ``iterate``, ``leave``; the client reports each iteration's end with ``ended``.
"""

from __future__ import annotations

import asyncio
import math
from time import perf_counter

from include.perfpipe.loadtest.engine.client import CRASHED, ENDED, STOP, UNSTARTED, VUs
from include.perfpipe.loadtest.engine.generator import EngineSpec, share


class ArrivalSchedule:
    """Intended send times of an arrival-rate profile: arrival ``j`` is due when the integral of the
    (piecewise linear) rate reaches ``j``."""

    def __init__(self, spec: EngineSpec) -> None:
        self.segments = []  # (t_begin, duration, rate_begin, rate_end, count_begin, count_end)
        t, rate, count = 0.0, spec.start, 0.0
        for stage in spec.stages:
            d, target = stage["duration_s"], stage["target"]
            added = (rate + target) / 2 * d
            if d > 0:
                self.segments.append((t, d, rate, target, count, count + added))
            t, rate, count = t + d, target, count + added
        self.total = count

    def time_of(self, j: float) -> float | None:
        for t, d, r0, r1, c0, c1 in self.segments:
            if c0 <= j < c1:
                dc = j - c0
                if dc == 0:
                    return t
                if r0 == r1:
                    return t + dc / r0
                a = (r1 - r0) / (2 * d)
                return t + 2 * dc / (r0 + math.sqrt(max(r0 * r0 + 4 * a * dc, 0.0)))
        return None


class ArrivalLoop:
    """Part ``index`` of ``count`` takes arrivals ``index``, ``index + count``, ... of the schedule."""

    def __init__(self, part: VUs) -> None:
        self.part = part
        self.idle: list = []
        self.created = 0  # VUs made so far
        self.busy = 0  # VUs running an iteration
        self.limit = max(1, share(part.spec.max_vus, part.index, part.count))
        self.task: asyncio.Task | None = None

    def begin(self) -> None:
        self.task = self.part.spawn(self.arrive())

    async def arrive(self) -> None:
        """Call ``arrival(start, due)`` for each of this part's arrivals until the schedule ends or the part
        stops. ``start`` is when the arrival is timed from: an early one from when it left, a late one from
        when it was due."""
        part = self.part
        schedule, duration = ArrivalSchedule(part.spec), part.spec.duration_s
        j, step, t0 = part.index, part.count, part.t0
        while not part.stopping:
            due = schedule.time_of(j)
            if due is None or due >= duration:
                return
            now = perf_counter()
            if t0 + due > now + 0.001:  # ahead: wait, waking a little early rather than late
                await asyncio.sleep(t0 + due - now - 0.0005)
                continue
            self.arrival(min(t0 + due, now), due)
            j += step
            if j % 64 < step:
                await asyncio.sleep(0)  # never starve the responses while catching up

    def arrival(self, start: float, due: float) -> None:
        """The next iteration: on an idle VU, a new one, or (all busy) dropped."""
        part = self.part
        if self.idle:
            vu = self.idle.pop()
        elif self.created < self.limit:
            vu = part.new_vu(self.created)
            self.created += 1
            if not part.enter(vu):
                part.vu_stopped(vu)
                return
        else:
            self.drop(due)
            return
        self.busy += 1
        part.iterate(vu, start, due)

    def ended(self, vu, outcome: str, due: float = 0.0) -> None:
        """``vu``'s iteration ended: it goes back to the idle VUs, or leaves."""
        self.busy -= 1
        part = self.part
        if outcome == CRASHED:
            return
        if outcome == UNSTARTED:  # due before the end, reached after it (a loop held up): counted, not lost
            self.drop(due)
        if outcome == STOP:
            part.vu_stopped(vu)
            part.leave(vu)
        elif part.stopping or outcome in (ENDED, UNSTARTED):
            part.leave(vu)
        else:
            self.idle.append(vu)

    def drop(self, due: float) -> None:
        part = self.part
        part.dropped += 1
        part.rec.record_dropped(*part.dropped_label(), due)

    async def sent(self) -> None:
        """The arrivals due before the end have gone (late, or dropped): a loop the machine held up near
        the end still owes them (9 of 200 were lost uncounted at load 10-15 when the run stopped at once)."""
        if self.task is not None:
            await asyncio.wait([self.task])

    def end(self) -> None:
        """The end of the run: idle VUs leave."""
        for vu in self.idle:
            self.part.leave(vu)
        self.idle.clear()

    def adjust(self, elapsed: float) -> None:
        """The rate is the schedule's: nothing to follow each tick."""

    def active(self) -> int:
        return self.busy

    def max_conns(self) -> int:
        return self.limit

    def finished(self) -> bool:
        return False
