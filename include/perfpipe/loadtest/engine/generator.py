"""The engine's load generator, whatever its client sends: one part of one shard of a run on one event loop.

A run is split into ``count`` equal parts (Airflow shards x processes); part ``index`` runs its share of
the VUs or of the arrivals from the common start ``t0``, records into its own ``MetricsRecorder`` and
watches itself: event-loop lag, CPU, dropped sends, abort rules. ``LoadGenerator`` is that control
loop with its drain, health and result. Its executor (``loadtest.executors``: the VU lifecycle of the closed
model or the arrival loop of the open one) applies the load by driving the client's VUs (``client.VUs``); its
clients are the HTTP generator (``clients.http_generator``: flat endpoints and journeys) and the DB query
benchmark (``database.query_client``), the last two with coroutine VUs (``engine.vus``). The class is not an
OS process: a worker process (``worker``) runs one, as the parent process does when a shard has one part.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from time import perf_counter
from typing import Protocol

from hdrh.histogram import HdrHistogram

from include.perfpipe.loadtest.engine.abort_rules import AbortRule, CircuitBreaker
from include.perfpipe.loadtest.engine.guard import breached, window_stats
from include.perfpipe.loadtest.engine.health import generator_health
from include.perfpipe.loadtest.result import LoadResult
from include.perfpipe.metrics import MetricsRecorder

log = logging.getLogger("perfpipe.loadtest")
TICK_S = 0.1  # controller period: VU ramps, active-VU samples, loop-lag probe
LATE_START_S = 1.0  # a shard starting later than this after start_at did not run its share
CONNECT_BACKOFF_S = 0.1  # a VU whose connect failed waits this long before trying again
# after the drain, how long the tasks cancelled then may take to end; one that is still running (a journey
# that catches CancelledError) is left behind, so a run ends by duration + drain + this at the latest
CANCEL_GRACE_S = 1.0
RUN_GC_YOUNG = 20_000  # the young generation's collection threshold while a run sends (CPython's default: 700)
_gc_lock = threading.Lock()
_gc_runs = 0  # runs of this interpreter sending now (parts of a run share the loop, shards may share the process)
_gc_saved: tuple[int, int, int] | None = None


def gc_for_run() -> None:
    """The collector while a run sends: the heap as it stands is frozen (``gc.freeze``: the imported
    modules' objects are no longer traversed by each full collection) and the young generation is
    collected after ``RUN_GC_YOUNG`` allocations instead of 700. With hundreds of VUs in flight each
    request's frames, futures and buffers outlive a young collection and are promoted, so older
    collections ran again and again over the whole heap: 8 % of the CPU at 500 VUs, none at 50 (the
    journey benchmark). Reference cycles are still collected; ``gc_after_run`` restores the collector
    when the last run of the interpreter ends."""
    global _gc_runs, _gc_saved
    with _gc_lock:
        if _gc_runs == 0:
            _gc_saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(RUN_GC_YOUNG, _gc_saved[0]), *_gc_saved[1:])
        _gc_runs += 1


def gc_after_run() -> None:
    global _gc_runs, _gc_saved
    with _gc_lock:
        _gc_runs -= 1
        if _gc_runs == 0 and _gc_saved is not None:
            gc.set_threshold(*_gc_saved)
            gc.unfreeze()
            _gc_saved = None


class EngineSpec(Protocol):
    """What the engine reads of a spec (``LoadSpec`` for HTTP, ``database.query_client.QuerySpec`` for the DB
    benchmark): the load plan and its limits, nothing of what the client sends or where to."""

    model: str  # "closed" (levels are VUs) or "open" (levels are arrivals per second)
    start: float
    stages: list[dict]  # [{"duration_s", "target"}]
    max_vus: int
    timeout_s: float  # bounds the drain (drain_s)
    abort_rules: list[AbortRule]
    circuit_breaker: CircuitBreaker | None
    loop_lag_bound_ms: float
    cpu_bound_percent: float
    progress_interval_s: float
    scenario: str
    tags: dict[str, str]
    start_time_s: float
    per_vu_iterations: int | None
    shared_iterations: int | None
    vu_offset: int

    @property
    def duration_s(self) -> float: ...

    def level_at(self, elapsed_s: float) -> float: ...

    def stage_windows(self) -> list[dict]: ...

    def to_dict(self) -> dict: ...


def run_to_end(coro, loop_factory):
    """Run ``coro`` (a part's ``run``) on a new event loop from ``loop_factory`` and return its result. Unlike
    ``asyncio.run``, closing the loop waits at most ``CANCEL_GRACE_S`` for the tasks left: a task that will
    not end when cancelled is dropped with the loop instead of holding the run for ever."""
    loop = loop_factory()
    try:
        return loop.run_until_complete(coro)
    finally:
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.wait(left, timeout=CANCEL_GRACE_S))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def drain_s(spec: EngineSpec) -> float:
    """How long requests in flight may still finish after the duration."""
    return min(spec.timeout_s, 10.0)


def share(total: int, index: int, count: int) -> int:
    """Part ``index`` of ``total`` split as evenly as possible over ``count`` parts."""
    return total // count + (1 if index < total % count else 0)


class Executor(Protocol):
    """How a part's load is applied (``loadtest.executors``: the VU lifecycle or the arrival loop), handed to
    the generator by its client as ``executor``."""

    def begin(self) -> None:
        """Start: the first VUs, or the arrival loop."""

    def adjust(self, elapsed: float) -> None:
        """Follow the plan ``elapsed`` s into the run (the closed model's VU count)."""

    def active(self) -> int:
        """VUs (closed) or iterations in flight (open) now."""

    def max_conns(self) -> int:
        """The most VUs, so connections, this part may open."""

    def finished(self) -> bool:
        """The work is done before the duration (an iterations executor's VUs all left)."""

    async def sent(self) -> None:
        """Once the duration is over: what fell due before the end has gone (the open model's arrivals)."""

    def end(self) -> None:
        """The run ends: VUs no iteration drives (idle, pacing) leave."""


class LoadGenerator:
    """Runs part ``index`` of ``count`` of a spec, whatever its client sends; ``run(t0_epoch)`` returns
    its ``LoadResult``. What every client shares: the control loop (stages, active VUs, loop-lag probe,
    abort rules, per-second sealing, progress), the drain, ``health()`` and the result. A client records
    each request it times into ``self.rec`` and counts ``requests``, ``errors`` and ``dropped``.

    ``spec`` is anything with the fields the engine reads (``EngineSpec``): a ``LoadSpec`` (HTTP) or the DB
    benchmark's ``QuerySpec``. ``should_stop()`` is called every tick and must not block: truthy stops
    the run early, and a string becomes its ``abort_reason``. ``on_abort(reason)`` is called when this
    part's own abort rules stop it.
    """

    executor: Executor  # set by the client (``loadtest.executors.executor_for``)
    pacing_s = 0.0  # a VU starts an iteration at most this often (a journey's pacing)
    unit = "req/s"  # what the client sends per second, for health notes
    sends = "sends"  # what it drops when every connection is busy
    when_dropped = "raise max_vus or add processes/shards"  # what to do about it

    def __init__(
        self,
        spec: EngineSpec,
        index: int = 0,
        count: int = 1,
        progress: Callable[[dict], None] | None = None,
        should_stop: Callable[[], str | bool | None] | None = None,
        on_abort: Callable[[str], None] | None = None,
    ):
        if not 0 <= index < count:
            raise ValueError(f"shard_index: expected 0 <= index < {count}, got {index}")
        self.spec, self.index, self.count = spec, index, count
        self.progress, self.should_stop = progress, should_stop or (lambda: False)
        self.on_abort = on_abort
        self.rec = MetricsRecorder(spec.scenario, spec.tags)
        self.stopping = False
        self.requests = self.errors = self.dropped = 0
        self.abort_reason: str | None = None
        self.lag = HdrHistogram(1, 60_000_000, 2)  # event-loop lag, microseconds
        self.interrupted = 0  # requests still in flight when the drain gave up
        self.left_behind = 0  # tasks still running CANCEL_GRACE_S after they were cancelled
        self._tasks: set[asyncio.Task] = set()
        self.t0 = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None

    def spawn(self, coro) -> asyncio.Task:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- the run -----------------------------------------------------------------------------------
    async def run(self, t0_epoch: float) -> LoadResult:
        self.loop = asyncio.get_running_loop()
        self.t0 = perf_counter() + (t0_epoch - time.time())
        self.t_end = self.t0 + self.spec.duration_s
        wait = self.t0 - perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        start_delay = max(0.0, perf_counter() - self.t0)
        cpu0, wall0 = time.process_time(), perf_counter()
        gc_for_run()
        try:
            self.executor.begin()
            watchdog = self.loop.create_task(self.watch_timeouts())
            await self.control()
            sending_s = min(perf_counter() - self.t0, self.spec.duration_s)
            if self.abort_reason is None:
                await self.executor.sent()
            self.stopping = True
            self.executor.end()
            await self.drain()
            watchdog.cancel()
        finally:
            gc_after_run()
        ended = perf_counter()
        cpu = 100.0 * (time.process_time() - cpu0) / max(ended - wall0, 1e-9)
        return LoadResult(
            spec=self.spec.to_dict(),
            started_at=_iso(t0_epoch),
            ended_at=_iso(t0_epoch + (ended - self.t0)),
            duration_s=sending_s,
            metrics=self.rec,
            stages=self.spec.stage_windows(),
            health=self.health(cpu, start_delay),
            aborted=self.abort_reason is not None,
            abort_reason=self.abort_reason,
        )

    async def control(self) -> None:
        """Every tick: ramp, sample active VUs and loop lag; every second: abort checks, sealing, progress."""
        breaker = self.spec.circuit_breaker
        windows = [r.window_s or 0 for r in self.spec.abort_rules] + [breaker.window_s if breaker else 0]
        keep = int(max([*windows, self.spec.progress_interval_s])) + 2
        done_second, last_progress, last_requests = 0, 0.0, 0
        expected = perf_counter()
        while True:
            now = perf_counter()
            if now > self.t0 + 0.05:
                self.lag.record_value(max(1, min(int((now - expected) * 1e6), 60_000_000)))
            elapsed = now - self.t0
            if elapsed >= self.spec.duration_s or self.finished():
                return
            stop = self.should_stop()
            if stop:
                self.abort_reason = stop if isinstance(stop, str) else "stopped: another part of this run aborted"
                log.warning("load test stopped at %.1f s: %s", elapsed, self.abort_reason)
                return
            self.executor.adjust(elapsed)
            self.rec.set_active_vus(elapsed, self.executor.active())
            second = int(elapsed)
            if second > done_second:
                done_second = second
                self.abort_reason = breached(
                    self.rec, second, self.spec.abort_rules, self.spec.circuit_breaker
                ) or self.breached_metrics(second)
                if self.abort_reason:
                    log.warning("load test aborted at %.1f s: %s", elapsed, self.abort_reason)
                    if self.on_abort is not None:
                        self.on_abort(self.abort_reason)
                    return
                self.rec.seal_before(second - keep)
                if elapsed - last_progress >= self.spec.progress_interval_s:
                    self.report(elapsed, last_progress, last_requests)
                    last_progress, last_requests = elapsed, self.requests
            pause = min(TICK_S, max(self.t_end - perf_counter(), 0.0))
            expected = perf_counter() + pause
            await asyncio.sleep(pause)

    def progress_extra(self) -> dict:
        """More figures for a progress snapshot (a journey's custom metrics)."""
        return {}

    def breached_metrics(self, second: int) -> str | None:
        """Why a custom-metric threshold marked ``abort_on_fail`` stops the test now (a journey's), or None."""
        return None

    def report(self, elapsed: float, since: float, requests_then: int) -> None:
        stats = window_stats(self.rec, int(elapsed) - 1, int(elapsed), metric="p95_ms")  # the last whole second
        snapshot = {
            "elapsed_s": round(elapsed, 1),
            "vus": self.executor.active(),
            "rps": round((self.requests - requests_then) / max(elapsed - since, 1e-9), 1),
            "p95_ms": round(stats.get("p95_ms", float("nan")), 2),
            "requests": self.requests,
            "errors": self.errors,
            "dropped": self.dropped,
            **self.progress_extra(),
        }
        log.info(
            "elapsed %(elapsed_s)ss vus %(vus)s req/s %(rps)s p95 %(p95_ms)s ms errors %(errors)s dropped %(dropped)s",
            snapshot,
        )
        if self.progress is not None:
            self.progress(snapshot)

    async def drain(self, give_up: float | None = None) -> None:
        """Let requests in flight finish (until ``give_up``, by default the timeout, at most 10 s), then
        cut the rest."""
        give_up = perf_counter() + drain_s(self.spec) if give_up is None else give_up
        while self.in_flight() and perf_counter() < give_up:
            await asyncio.sleep(0.02)
        self.interrupted = self.in_flight()
        self.cut()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, running = await asyncio.wait(tasks, timeout=CANCEL_GRACE_S)
            self.left_behind = len(running)

    def health(self, cpu_percent: float, start_delay: float) -> dict:
        """Saturated when the generator delayed its own sends: loop lag, the client's own reasons
        (``client_reasons``: dropped sends, connections it could not open or lost), a late start, or
        (open model only) full CPU. In the closed model full CPU is the expected state against a fast
        target and only a note (``cpu_bound``): loop lag says whether it delayed what was measured;
        validation then refuses only a failed capacity (``rps >=``) check. One rule set
        (``loadtest/engine/health.py``) for every client."""
        own = self.client_reasons()
        if start_delay > LATE_START_S:
            own.append(f"part {self.index} started {start_delay:.1f} s after the common start_at")
        health = generator_health(
            self.lag,
            cpu_percent,
            paced=self.spec.model == "open",
            unit=self.unit,
            lag_bound_ms=self.spec.loop_lag_bound_ms,
            cpu_bound_percent=self.spec.cpu_bound_percent,
            reasons=own,
        )
        if self.left_behind:
            health["notes"].append(
                f"{self.left_behind} VU task(s) went on after the run cancelled them (code that catches "
                "CancelledError): left behind, nothing they did after the run counted"
            )
        return {
            **health,
            "dropped": self.dropped,
            "interrupted": self.interrupted,
            "start_delay_s": round(start_delay, 3),
            "processes": 1,
        }

    # -- client hooks ------------------------------------------------------------------------------
    def client_reasons(self) -> list[str]:
        """Why the client's own limits invalidate its numbers: dropped sends here, a client adds its own
        (connections it could not open or lost, ...)."""
        if not self.dropped:
            return []
        busy = f"all {self.executor.max_conns()} connections of this generator were busy"
        return [f"{self.dropped} {self.sends} dropped: {busy} ({self.when_dropped})"]

    def in_flight(self) -> int:
        """Requests (and connects) in flight now: the drain waits for them."""
        return 0

    def cut(self) -> None:
        """At the end of the drain, before the tasks are cancelled: drop what is still in flight."""

    async def watch_timeouts(self) -> None:
        """Fail requests the client's own timeout ran out for (HTTP: read timeouts); none by default."""

    def finished(self) -> bool:
        """True once the work is done before the duration (an iterations executor's VUs all left)."""
        return self.executor.finished()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
