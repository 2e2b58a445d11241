"""The engine's one interface to what it sends: a ``Client`` builds the generator of one part of a run, and
an executor (``loadtest.executors``: the VU lifecycle or the arrival loop) drives that generator's ``VUs``.

The engine is handed a client (``runs`` hands it ``clients.choice.HttpClients``) and never imports one: a
worker process finds the same client again by its importable name (``module:qualname``), sent over the
worker's stdin with the spec.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from typing import Protocol

from include.perfpipe.loadtest.engine.generator import EngineSpec
from include.perfpipe.loadtest.result import LoadResult
from include.perfpipe.metrics import MetricsRecorder

# what one iteration ended with: OK, RESTART (failed, the VU goes on), STOP (this VU stops), ENDED (the run
# ended during it), UNSTARTED (the run had ended before it sent anything: the open model drops it), CRASHED
# (an exception nothing handled: the VU is gone)
OK, RESTART, STOP, ENDED, UNSTARTED, CRASHED = "ok", "restart", "stop", "ended", "unstarted", "crashed"


class VUs(Protocol):
    """A load generator's (``LoadGenerator``'s) virtual users, as an executor drives them. A VU has a
    ``retired`` attribute (ramped down); an iteration the executor began with ``iterate`` is ended by the
    client with ``executor.ended``."""

    spec: EngineSpec
    index: int
    count: int
    t0: float
    t_end: float
    stopping: bool
    dropped: int
    loop: asyncio.AbstractEventLoop
    rec: MetricsRecorder
    pacing_s: float  # a VU starts an iteration at most this often (closed model)

    def spawn(self, coro) -> asyncio.Task: ...

    def new_vu(self, i: int):
        """This part's ``i``-th VU, not yet started."""

    def enter(self, vu) -> bool:
        """Before a VU's first iteration; False stops it at once (e.g. a feeder drawn per VU ran out)."""

    def iterate(self, vu, start: float, due: float) -> None:
        """Begin one iteration of ``vu``, timed from ``start`` (open model: the arrival's intended time),
        due ``due`` s into the run; when it ends the client calls ``executor.ended(vu, outcome, due)``."""

    def leave(self, vu) -> None:
        """``vu`` leaves (its teardown, its connection closed); once."""

    def vu_stopped(self, vu) -> None:
        """``vu`` stopped itself (``enter`` False or an iteration's STOP)."""

    def dropped_label(self) -> tuple[str, str]:
        """``(name, class_name)`` a dropped iteration is counted under."""


class Part(Protocol):
    """One part of one shard on one event loop (a ``LoadGenerator``, or several side by side)."""

    async def run(self, t0_epoch: float) -> LoadResult: ...


class Client(Protocol):
    """A class (so that a worker process can import it by name) with two static methods."""

    @staticmethod
    def spec_from_dict(data: dict) -> EngineSpec: ...

    @staticmethod
    def generator(
        spec: EngineSpec,
        index: int,
        count: int,
        progress: Callable[[dict], None] | None,
        should_stop: Callable[[], str | bool | None] | None,
        on_abort: Callable[[str], None] | None,
        secret_headers: dict[str, str] | None,
    ) -> Part: ...


def name_of(client: type) -> str:
    """``module:qualname`` of ``client``, as a worker process imports it."""
    return f"{client.__module__}:{client.__qualname__}"


def client_named(name: str) -> Client:
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)
