"""Virtual users as coroutines on the load generator, whatever they send (Locust's User with its own
``client``): each iteration a task, pauses the end of the run wakes, and leaving within the drain time.

A client subclasses ``CoroutineVUs`` and says what a VU is (``new_vu``) and what one iteration does
(``one_iteration``), recording each request it times into the generator's recorder; its executor (the VU
lifecycle or the arrival loop, ``loadtest.executors``) says when each iteration runs. The HTTP journey
(``clients.journeys``) and the DB query benchmark (``database.query_client``) are the two clients.

A VU (session) has the attributes ``retired``, ``leaving``, ``pause`` and ``iteration``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from abc import abstractmethod
from time import perf_counter

from include.perfpipe.loadtest.engine.client import CRASHED, OK, RESTART
from include.perfpipe.loadtest.engine.generator import LoadGenerator, drain_s

log = logging.getLogger("perfpipe.loadtest")


class CoroutineVUs(LoadGenerator):
    """A client whose iterations are coroutines: a VU's tasks, its pauses, when it must stop, and the drain
    that lets it leave."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.alive: set = set()  # sessions whose task (an iteration, or leaving) runs
        self.crashed: dict[str, int] = {}  # VUs stopped by an exception nothing handled, by its type
        self.teardown_by = math.inf  # when leaving at the end of the run is cut

    # -- client hooks ------------------------------------------------------------------------------
    @abstractmethod
    def new_vu(self, i: int):
        """This part's ``i``-th VU (``vu_number(i)`` numbers it across parts)."""

    @abstractmethod
    def one_iteration(self, session, start: float):
        """A coroutine running one iteration, returning an outcome of ``engine.client`` (OK, RESTART, STOP,
        ENDED or UNSTARTED). ``start`` is when the iteration was due (open model: the arrival's intended
        time, for latency without coordinated omission) or began (closed model)."""

    def enter(self, session) -> bool:
        """Before a VU's first iteration; False stops it at once (e.g. a feeder drawn per VU ran out)."""
        return True

    def vu_stopped(self, session) -> None:
        """``session`` stopped itself (``enter`` False or an iteration's STOP)."""

    def dropped_label(self) -> tuple[str, str]:
        """``(name, class_name)`` a dropped iteration is counted under."""
        return "iteration", "api"

    async def leave_session(self, session) -> None:
        """The VU leaves (its teardown, its connection closed); once."""

    # -- what the executor drives ------------------------------------------------------------------
    def iterate(self, session, start: float, due: float) -> None:
        self.spawn_session(session, self.one_iteration(session, start), due)

    def leave(self, session) -> None:
        self.spawn_session(session, self.leave_session(session))

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
        """Think time; none once the run has ended, and the end wakes a session that pauses."""
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
        await self.loop.create_future()

    def spawn_session(self, session, life, due: float | None = None) -> None:
        """Run ``life`` (a coroutine driving ``session``) as a task, the session counted in ``alive`` till it
        ends; ``due``: ``life`` is an iteration, whose outcome the executor is then told."""
        self.alive.add(session)
        self.spawn(self._alive_while(session, life, due))

    async def _alive_while(self, session, life, due: float | None) -> None:
        outcome = CRASHED
        try:
            outcome = await life
        except Exception as exc:  # a bug of ours or of a client: the VU is gone, and the run says so
            name = type(exc).__name__
            if name not in self.crashed:
                log.error("a VU stopped on %s", name, exc_info=exc)
            self.crashed[name] = self.crashed.get(name, 0) + 1
        finally:
            self.alive.discard(session)
        if due is not None:  # after the discard: the executor may start the session's next task at once
            if outcome in (OK, RESTART):
                self.rec.record_iteration()
            self.executor.ended(session, outcome, due)

    def client_reasons(self) -> list[str]:
        crashed = [
            f"{n} VU(s) stopped on an unexpected {name} (logged): fewer VUs than asked"
            for name, n in self.crashed.items()
        ]
        return super().client_reasons() + crashed

    def finished(self) -> bool:
        return not self.alive and super().finished()

    async def drain(self, give_up: float | None = None) -> None:
        """At the end of the run: iterations in flight finish, pausing sessions wake, and every VU leaves,
        all within the drain time; then what is left is cut."""
        give_up = self.teardown_by = perf_counter() + drain_s(self.spec)
        for session in self.alive:
            if session.pause is not None:
                _wake(session.pause)
        while self.alive and perf_counter() < give_up:
            await asyncio.sleep(0.02)
        await super().drain(give_up)


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)
