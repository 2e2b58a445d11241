"""Virtual users as coroutines on the load generator, whatever they send (Locust's User with its own
``client``): the VU lifecycle of the closed model, the arrival schedule of the open model, iteration
budgets, pacing, pauses the end of the run wakes, and leaving within the drain time.

A client subclasses ``CoroutineVUs`` and says what a VU is (``new_session``) and what one
iteration does (``one_iteration``), recording each request it times into the generator's recorder;
``ClosedVUs`` and ``OpenVUs`` then run it. The HTTP journey (``clients.journeys``) and the DB query
benchmark (``database.query_client``) are the two clients.

Closed model: the profile's VUs each start (``start_vu``), then run iterations until the test ends, they
are ramped down, their iterations budget is spent or they stop. Open model: each arrival is one
iteration by an idle VU (a new VU, up to ``max_vus``, starts first); with every VU busy the iteration
is dropped and counted (k6 dropped_iterations). ``leave`` runs once per VU when it leaves: ramped down,
stopped, or at the end of the run (duration over, abort, stop signal) within the drain time.

A VU (session) has the attributes ``retired``, ``running``, ``leaving``, ``pause`` and ``iteration``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from abc import abstractmethod
from time import perf_counter

from include.perfpipe.loadtest.engine.generator import LoadGenerator, drain_s, share
from include.perfpipe.loadtest.executors.shared_iterations import part_iterations

# what one iteration ended with; UNSTARTED: the run had ended before it sent anything (the open model drops it)
OK, RESTART, STOP, ENDED, UNSTARTED = "ok", "restart", "stop", "ended", "unstarted"
log = logging.getLogger("perfpipe.loadtest")


class CoroutineVUs(LoadGenerator):
    """What both models share: a VU's task, its pauses, when it must stop, and the drain that lets it leave."""

    pacing_s = 0.0  # closed model: a VU starts an iteration at most this often
    iteration_yields = True  # False: an iteration may send nothing, so the VU yields to the loop after it

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.alive: set = set()  # sessions whose task runs
        self.crashed: dict[str, int] = {}  # VUs stopped by an exception nothing handled, by its type
        self.teardown_by = math.inf  # when leaving at the end of the run is cut

    # -- client hooks ------------------------------------------------------------------------------
    @abstractmethod
    def new_session(self, i: int):
        """This part's ``i``-th VU (``vu_number(i)`` numbers it across parts)."""

    @abstractmethod
    def one_iteration(self, session, start: float):
        """A coroutine running one iteration, returning OK, RESTART (failed, go on), STOP (this VU stops),
        ENDED (the run ended during it) or UNSTARTED (the run had ended before it sent anything). ``start``
        is when the iteration was due (open model: the arrival's intended time, for latency without
        coordinated omission) or began (closed model)."""

    def start_vu(self, session) -> bool:
        """Before a VU's first iteration; False stops it at once (e.g. a feeder drawn per VU ran out)."""
        return True

    def vu_stopped(self, session) -> None:
        """``session`` stopped itself (``start_vu`` False or an iteration's STOP)."""

    def dropped_label(self) -> tuple[str, str]:
        """``(name, class_name)`` a dropped iteration is counted under."""
        return "iteration", "api"

    async def leave(self, session) -> None:
        """The VU leaves (its teardown, its connection closed); once."""
        session.running = False

    # -- a session's life --------------------------------------------------------------------------
    def vu_number(self, i: int) -> int:
        """VU numbers 1..N are unique across parts: part p holds p+1, p+1+count, ..."""
        return self.spec.vu_offset + self.index + self.count * i + 1

    def over(self, session) -> bool:
        """Whether the session must send nothing more (while leaving: only once the drain time is up)."""
        if session.leaving:
            return perf_counter() >= self.teardown_by
        return session.retired or self.stopping or perf_counter() >= self.t_end

    async def pause(self, session, seconds: float) -> None:
        """Think time or pacing; none once the run has ended, and the end wakes a session that pauses."""
        if self.stopping:
            return
        waiter = session.pause = self.loop.create_future()
        timer = self.loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            session.pause = None

    async def let_go(self, session) -> None:
        """``session`` goes on after it was told to stop: it is no longer waited for, and waits here
        until the drain cancels its task."""
        self.alive.discard(session)
        session.running = False
        await self.loop.create_future()

    def spawn_session(self, session, life) -> None:
        """Run ``life`` (a coroutine driving ``session``) as a task, the session counted in ``alive`` till it ends."""
        self.alive.add(session)
        self.spawn(self._alive_while(session, life))

    async def _alive_while(self, session, life) -> None:
        try:
            await life
        except Exception as exc:  # a bug of ours or of a client: the VU is gone, and the run says so
            session.running = False
            name = type(exc).__name__
            if name not in self.crashed:
                log.error("a VU stopped on %s", name, exc_info=exc)
            self.crashed[name] = self.crashed.get(name, 0) + 1
        finally:
            self.alive.discard(session)

    def client_reasons(self) -> list[str]:
        crashed = [
            f"{n} VU(s) stopped on an unexpected {name} (logged): fewer VUs than asked"
            for name, n in self.crashed.items()
        ]
        return super().client_reasons() + crashed

    def end_sessions(self) -> None:
        """Model hook at the end of the run: start leaving for the sessions no task drives."""

    async def drain(self, give_up: float | None = None) -> None:
        """At the end of the run: iterations in flight finish, pausing sessions wake, and every VU leaves,
        all within the drain time; then what is left is cut."""
        give_up = self.teardown_by = perf_counter() + drain_s(self.spec)
        self.end_sessions()
        for session in self.alive:
            if session.pause is not None:
                _wake(session.pause)
        while self.alive and perf_counter() < give_up:
            await asyncio.sleep(0.02)
        await super().drain(give_up)


class ClosedVUs(CoroutineVUs):
    """Closed model: each VU runs iterations until the test ends, it is ramped down, or it stops."""

    def begin(self) -> None:
        self.vus: list = []
        spec = self.spec
        self.budgeted = spec.per_vu_iterations is not None or spec.shared_iterations is not None
        self.pool = (
            part_iterations(spec.shared_iterations, spec.max_vus, self.index, self.count)
            if spec.shared_iterations is not None
            else None
        )
        self.adjust(0.0)

    def take_iteration(self, session) -> bool:
        """Whether the session may start another iteration (per-VU or shared iterations left)."""
        if self.pool is not None:
            if self.pool <= 0:
                return False
            self.pool -= 1
            return True
        per_vu = self.spec.per_vu_iterations
        return per_vu is None or session.iteration < per_vu

    def finished(self) -> bool:
        """Every VU of an iterations executor has run its iterations (this part may have none)."""
        if not self.budgeted or self.alive or perf_counter() - self.t0 < self.spec.start_time_s:
            return False
        return bool(self.vus) or share(self.spec.max_vus, self.index, self.count) == 0

    def adjust(self, elapsed: float) -> None:
        self.ramp(elapsed, self.vus, self.start_session)  # a retired VU also leaves

    def start_session(self, i: int):
        session = self.new_session(i)
        self.spawn_session(session, self.live_session(session))
        return session

    def active(self) -> int:
        return sum(1 for s in self.vus if s.running)

    def max_conns(self) -> int:
        return share(self.spec.max_vus, self.index, self.count)

    async def live_session(self, session) -> None:
        if not self.start_vu(session):
            self.vu_stopped(session)
            session.running = False
            return
        pacing = self.pacing_s
        while not self.over(session) and self.take_iteration(session):
            started = perf_counter()
            outcome = await self.one_iteration(session, started)
            if outcome in (OK, RESTART):
                self.rec.record_iteration()
            if outcome == STOP:
                self.vu_stopped(session)
                break
            if outcome in (ENDED, UNSTARTED):
                break
            wait = pacing - (perf_counter() - started)
            if wait > 0 and not self.over(session):
                await self.pause(session, wait)
            elif not self.iteration_yields or outcome != OK:
                await asyncio.sleep(0)  # an iteration that sent nothing must not starve the loop
        await self.leave(session)


class OpenVUs(CoroutineVUs):
    """Open model: the profile's rate is iterations per second, each run by an idle VU."""

    def begin(self) -> None:
        self.idle: list = []
        self.sessions = 0
        self.busy = 0
        self.limit = self.max_conns()
        self.send_arrivals(self.start_one)

    def active(self) -> int:
        return self.busy

    def max_conns(self) -> int:
        return max(1, share(self.spec.max_vus, self.index, self.count))

    def start_one(self, start: float, due: float) -> None:
        """The next iteration: on an idle VU, a new one, or (all busy) dropped."""
        if self.idle:
            session = self.idle.pop()
            self.spawn_session(session, self.run_one(session, start, due))
        elif self.sessions < self.limit:
            session = self.new_session(self.sessions)
            self.sessions += 1
            if self.start_vu(session):
                self.spawn_session(session, self.run_one(session, start, due))
            else:
                self.vu_stopped(session)
        else:
            self.drop(due)

    def drop(self, due: float) -> None:
        self.dropped += 1
        self.rec.record_dropped(*self.dropped_label(), due)

    async def run_one(self, session, start: float, due: float) -> None:
        self.busy += 1
        try:
            outcome = await self.one_iteration(session, start)
        finally:
            self.busy -= 1
        if outcome in (OK, RESTART):
            self.rec.record_iteration()
        elif outcome == UNSTARTED:  # due before the end, reached after it (a loop held up): counted, not lost
            self.drop(due)
        if outcome == STOP:
            self.vu_stopped(session)
            await self.leave(session)
        elif self.stopping or outcome in (ENDED, UNSTARTED):
            await self.leave(session)
        else:
            self.idle.append(session)

    def end_sessions(self) -> None:
        """Idle VUs have no task: each gets one to leave."""
        for session in self.idle:
            self.spawn_session(session, self.leave(session))
        self.idle.clear()


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)
