"""One generator process of a load test (one part of one shard) on one event loop: the closed (VU) and
open (arrival-rate) models.

A run is split into ``count`` equal parts (Airflow shards x processes); part ``index`` runs its
share of the VUs or of the arrivals from the common start ``t0``, records into its own
``MetricsRecorder`` and watches itself: event-loop lag, CPU, dropped sends, abort rules.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import random
import ssl
import time
from abc import ABC, abstractmethod
from bisect import bisect
from collections.abc import Callable
from datetime import UTC, datetime
from time import perf_counter

from hdrh.histogram import HdrHistogram

from include.perfpipe.loadtest.connection import Hop, HttpConnection, Prepared, _tls_context
from include.perfpipe.loadtest.cookies import CookieJar
from include.perfpipe.loadtest.credentials import resolve
from include.perfpipe.loadtest.guard import breached, window_stats
from include.perfpipe.loadtest.health import generator_health
from include.perfpipe.loadtest.journey.compiled import think_sampler
from include.perfpipe.loadtest.journey.models import ThinkTime
from include.perfpipe.loadtest.redirects import RedirectRefused, next_request
from include.perfpipe.loadtest.result import LoadResult
from include.perfpipe.loadtest.spec import LoadSpec
from include.perfpipe.metrics import MetricsRecorder

log = logging.getLogger("perfpipe.loadtest")
TICK_S = 0.1  # controller period: VU ramps, active-VU samples, loop-lag probe
CONNECT_BACKOFF_S = 0.1  # a VU whose connect failed waits this long before trying again
LATE_START_S = 1.0  # a shard starting later than this after start_at did not run its share
# a connect failing with these ran out of the generator's own descriptors or ports, not the target's
GENERATOR_LIMITS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS})


def drain_s(spec: LoadSpec) -> float:
    """How long requests in flight may still finish after the duration."""
    return min(spec.timeout_s, 10.0)


def share(total: int, index: int, count: int) -> int:
    """Part ``index`` of ``total`` split as evenly as possible over ``count`` parts."""
    return total // count + (1 if index < total % count else 0)


class ArrivalSchedule:
    """Intended send times of an arrival-rate profile: arrival ``j`` is due when the integral of the
    (piecewise linear) rate reaches ``j``."""

    def __init__(self, spec: LoadSpec) -> None:
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


class GeneratorProcess(ABC):
    """Runs part ``index`` of ``count`` of a spec; ``run(t0_epoch)`` returns its ``LoadResult``.

    ``should_stop()`` is called every tick and must not block: truthy stops the run early, and a
    string becomes its ``abort_reason``. ``on_abort(reason)`` is called when this part's own abort
    rules stop it. ``secret_headers`` are the values of ``spec.secret_headers`` (credentials).
    """

    def __init__(
        self,
        spec: LoadSpec,
        index: int = 0,
        count: int = 1,
        progress: Callable[[dict], None] | None = None,
        should_stop: Callable[[], str | bool | None] | None = None,
        on_abort: Callable[[str], None] | None = None,
        secret_headers: dict[str, str] | None = None,
    ):
        if not 0 <= index < count:
            raise ValueError(f"shard_index: expected 0 <= index < {count}, got {index}")
        self.spec, self.index, self.count = spec, index, count
        self.progress, self.should_stop = progress, should_stop or (lambda: False)
        self.on_abort = on_abort
        self.secret_headers = resolve(spec.secret_headers, secret_headers)
        self.endpoints = [
            Prepared(e, spec.verify_tls, spec.max_body_bytes, self.secret_headers)
            for e in spec.endpoints
            if e.weight > 0
        ]
        weights = [e.weight for e in spec.endpoints if e.weight > 0]
        self.cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.rec = MetricsRecorder(spec.scenario, spec.tags)
        for e in spec.endpoints:
            self.rec.label(e.name, e.group, {**spec.tags, **e.tags})
        self.live: set[HttpConnection] = set()
        self.connecting = 0
        self.stopping = False
        self.requests = self.errors = self.dropped = 0
        self.unopened = 0  # connects the generator's own limits refused (GENERATOR_LIMITS)
        self.abort_reason: str | None = None
        self.lag = HdrHistogram(1, 60_000_000, 2)  # event-loop lag, microseconds
        self.interrupted = 0  # requests still in flight when the drain gave up
        self._tasks: set[asyncio.Task] = set()
        self.think = think_sampler(ThinkTime.model_validate(spec.think_time))
        self.t0 = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._pass_began: float | None = None  # see ``response_clock``
        self._tls: dict[str, ssl.SSLContext] = {}

    # -- shared by both models ---------------------------------------------------------------------
    def pick(self) -> Prepared:
        if len(self.endpoints) == 1:
            return self.endpoints[0]
        return self.endpoints[bisect(self.cumulative, random.random() * self.cumulative[-1])]

    def tls(self, scheme: str) -> ssl.SSLContext | None:
        """The shard's one TLS context for ``https`` (None for ``http``)."""
        if scheme != "https":
            return None
        if scheme not in self._tls:
            self._tls[scheme] = _tls_context(self.spec.verify_tls)
        return self._tls[scheme]

    def new_jar(self) -> CookieJar | None:
        """A virtual user's cookie jar, or None when the scenario turned cookies off."""
        return CookieJar() if self.spec.cookies else None

    async def connect(self, endpoint: Prepared, cookies: CookieJar | None = None) -> HttpConnection:
        follow = self.spec.max_redirects > 0
        _, conn = await asyncio.wait_for(
            self.loop.create_connection(
                lambda: HttpConnection(self, cookies, follow), endpoint.host, endpoint.port, ssl=endpoint.ssl
            ),
            self.spec.timeout_s,
        )
        conn.origin = (endpoint.host, endpoint.port)
        self.live.add(conn)
        return conn

    def completed(self, conn: HttpConnection, status: int, response) -> None:
        if conn.location is not None:  # a redirect, and redirects are followed
            self.redirect(conn, status)
        else:
            self.record_response(conn, status, response)

    def redirect(self, conn: HttpConnection, status: int) -> None:
        """Follow the redirect just answered (``follow``), or fail the request naming why not."""
        endpoint = conn.endpoint
        try:
            if endpoint.hops >= self.spec.max_redirects:
                raise RedirectRefused("TooManyRedirects")
            request = next_request(
                endpoint.raw, endpoint.url, status, conn.location, self.spec.allowlist, self.secret_headers
            )
        except RedirectRefused as exc:
            self.failed(conn, exc.args[0])
            return
        first = endpoint.first if isinstance(endpoint, Hop) else endpoint
        self.follow(conn, Hop(first, endpoint.hops + 1, request, self.tls(request.url.scheme)))

    def response_clock(self) -> float:
        """When the loop pass now handing over responses began. Every response read in one pass was
        ready when the poll returned, so each is timed to the pass's first reading: the last of a burst
        of N responses is not charged for the N - 1 callbacks run before its own."""
        began = self._pass_began
        if began is None:
            began = self._pass_began = perf_counter()
            self.loop.call_soon(self._end_pass)  # runs after this pass's callbacks, before the next poll
        return began

    def _end_pass(self) -> None:
        self._pass_began = None

    def record_response(self, conn: HttpConnection, status: int, response) -> None:
        now = self.response_clock()
        endpoint = conn.endpoint
        try:
            ok = endpoint.judge(status, response)
        except Exception:  # a user check that raises is a failed check, not a crashed generator
            ok, status = False, "CheckError"
        self.requests += 1
        if not ok:
            self.errors += 1
        self.rec.record(endpoint.name, endpoint.class_name, now - conn.start, ok, status, now - self.t0)
        self.after(conn)

    def connect_failed(self, endpoint: Prepared, start: float, exc: Exception) -> None:
        if isinstance(exc, OSError) and exc.errno in GENERATOR_LIMITS:
            self.unopened += 1
        self.record_error(
            endpoint, start, "ConnectTimeout" if isinstance(exc, asyncio.TimeoutError) else "ConnectError"
        )

    def record_error(self, endpoint: Prepared, start: float, error: str) -> None:
        now = perf_counter()
        self.requests += 1
        self.errors += 1
        self.rec.record(endpoint.name, endpoint.class_name, now - start, False, error, now - self.t0)

    def failed(self, conn: HttpConnection, error: str) -> None:
        self.record_error(conn.endpoint, conn.start, error)
        self.after(conn)

    def lost(self, conn: HttpConnection) -> None:
        self.live.discard(conn)

    def ramp(self, elapsed: float, vus: list, start: Callable[[int], object]) -> None:
        """The closed model's ramp: grow ``vus`` to this part's share of the level at ``elapsed`` with
        ``start(i)`` (the part's i-th VU, started), or retire the newest (each finishes its request in
        flight, then stops)."""
        want = share(int(round(self.spec.level_at(elapsed))), self.index, self.count)
        while len(vus) < want:
            vus.append(start(len(vus)))
        while len(vus) > want:
            vus.pop().retired = True

    def spawn(self, coro) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        self.begin()
        watchdog = self.loop.create_task(self.watch_timeouts())
        await self.control()
        sending_s = min(perf_counter() - self.t0, self.spec.duration_s)
        self.stopping = True
        await self.drain()
        watchdog.cancel()
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
        keep = (
            int(
                max(
                    [r["window_s"] or 0 for r in self.spec.abort_rules]
                    + [(self.spec.circuit_breaker or {}).get("window_s", 0), self.spec.progress_interval_s]
                )
            )
            + 2
        )
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
            self.adjust(elapsed)
            self.rec.set_active_vus(elapsed, self.active())
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
            "vus": self.active(),
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

    async def watch_timeouts(self) -> None:
        period = min(1.0, self.spec.timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            deadline = perf_counter() - self.spec.timeout_s
            for conn in [c for c in self.live if c.busy and c.sent < deadline]:
                conn.fail("ReadTimeout")

    async def drain(self, give_up: float | None = None) -> None:
        """Let requests in flight finish (until ``give_up``, by default the timeout, at most 10 s), then
        cut the rest."""
        give_up = perf_counter() + drain_s(self.spec) if give_up is None else give_up
        while (self.connecting or any(c.busy for c in self.live)) and perf_counter() < give_up:
            await asyncio.sleep(0.02)
        self.interrupted = sum(1 for c in self.live if c.busy) + self.connecting
        for conn in list(self.live):
            conn.busy = False
            conn.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0)

    def health(self, cpu_percent: float, start_delay: float) -> dict:
        """Saturated when the generator delayed its own sends: loop lag, dropped sends, connections its
        own limits refused, a late start, or (open model only) full CPU. In the closed model full CPU is
        the expected state against a fast target and only a note (``cpu_bound``): loop lag says whether
        it delayed what was measured; validation then refuses only a failed capacity (``rps >=``) check."""
        own = []
        if self.dropped:
            own.append(
                f"{self.dropped} sends dropped: all {self.max_conns()} connections of this "
                "generator were busy (raise max_vus or add processes/shards)"
            )
        if self.unopened:
            own.append(f"{self.unopened} connections could not be opened for the generator's own file or port limits")
        if start_delay > LATE_START_S:
            own.append(f"part {self.index} started {start_delay:.1f} s after the common start_at")
        health = generator_health(
            self.lag,
            cpu_percent,
            paced=self.spec.model == "open",
            lag_bound_ms=self.spec.loop_lag_bound_ms,
            cpu_bound_percent=self.spec.cpu_bound_percent,
            reasons=own,
        )
        return {
            **health,
            "dropped": self.dropped,
            "interrupted": self.interrupted,
            "start_delay_s": round(start_delay, 3),
            "processes": 1,
        }

    # -- model hooks -------------------------------------------------------------------------------
    def finished(self) -> bool:
        """True once the work is done before the duration (an iterations executor's VUs all ended)."""
        return False

    @abstractmethod
    def begin(self) -> None:
        """Start sending (the first VUs, or the arrival schedule)."""

    def adjust(self, elapsed: float) -> None:  # noqa: B027 (a hook only the closed model needs)
        """Follow the stage plan ``elapsed`` s into the run (the closed model's VU count); none by default."""

    @abstractmethod
    def active(self) -> int:
        """VUs (closed) or requests in flight (open) now."""

    @abstractmethod
    def after(self, conn: HttpConnection) -> None:
        """``conn`` has its response: send again, think, or hand the connection back."""

    @abstractmethod
    def follow(self, conn: HttpConnection, hop: Hop) -> None:
        """``conn`` answered with a redirect to follow: send ``hop`` next, timed from ``conn.start``."""

    @abstractmethod
    def max_conns(self) -> int:
        """The most connections this part may open."""


class _VU:
    __slots__ = ("conn", "retired", "cookies", "hop", "hop_start")

    def __init__(self, cookies: CookieJar | None) -> None:
        self.conn: HttpConnection | None = None
        self.retired = False
        self.cookies = cookies
        self.hop: Hop | None = None  # a redirect to follow next, timed from hop_start
        self.hop_start = 0.0


class ClosedGeneratorProcess(GeneratorProcess):
    """Closed model: each virtual user sends, waits for the response, thinks, and sends again."""

    def begin(self) -> None:
        self.vus: list[_VU] = []
        self.adjust(0.0)

    def adjust(self, elapsed: float) -> None:
        self.ramp(elapsed, self.vus, self.start_vu)

    def start_vu(self, _number: int) -> _VU:
        vu = _VU(self.new_jar())
        self.send_next(vu)
        return vu

    def active(self) -> int:
        return len(self.vus)

    def max_conns(self) -> int:
        return share(self.spec.max_vus, self.index, self.count)

    def send_next(self, vu: _VU) -> None:
        """The VU's next request, on its open connection when it goes to the same host; none once stopped."""
        conn, hop = vu.conn, vu.hop
        if self.stopping or (hop is None and (vu.retired or perf_counter() >= self.t_end)):
            if conn is not None:
                conn.close()
            return
        if hop is not None:  # a retired VU, or one past the end, still finishes the request it began
            vu.hop, endpoint, start = None, hop, vu.hop_start
        else:
            endpoint, start = self.pick(), perf_counter()
        if conn is not None and not conn.closed and conn.origin == (endpoint.host, endpoint.port):
            conn.send(endpoint, start)
        else:
            if conn is not None:
                conn.close()
            vu.conn = None
            self.spawn(self.connect_and_send(vu, endpoint, start))

    async def connect_and_send(self, vu: _VU, endpoint: Prepared, start: float) -> None:
        self.connecting += 1
        try:
            conn = await self.connect(endpoint, vu.cookies)
        except (TimeoutError, OSError) as exc:
            self.connect_failed(endpoint, start, exc)
            self.loop.call_later(CONNECT_BACKOFF_S, self.send_next, vu)
            return
        finally:
            self.connecting -= 1
        conn.vu, vu.conn = vu, conn
        if vu.retired or self.stopping:
            conn.close()
        else:
            conn.send(endpoint, start)

    def after(self, conn: HttpConnection) -> None:
        vu = conn.vu
        if self.think is not None and not (vu.retired or self.stopping):
            self.loop.call_later(self.think(), self.send_next, vu)
        else:  # after this loop pass: every response already read is timed before any new send
            self.loop.call_soon(self.send_next, vu)

    def follow(self, conn: HttpConnection, hop: Hop) -> None:
        vu = conn.vu
        vu.hop, vu.hop_start = hop, conn.start
        self.loop.call_soon(self.send_next, vu)


class OpenGeneratorProcess(GeneratorProcess):
    """Open model: requests leave at the profile's arrival rate whatever the responses do; latency runs
    from the intended send time (coordinated omission corrected, as wrk2); with every connection
    busy the send is dropped and counted (k6 dropped_iterations)."""

    def begin(self) -> None:
        self.idle: dict[tuple, list[HttpConnection]] = {}
        self.conns = 0  # open or opening
        self.schedule = ArrivalSchedule(self.spec)
        self.spawn(self.send_on_schedule())

    def active(self) -> int:
        return self.conns - sum(len(v) for v in self.idle.values())

    def max_conns(self) -> int:
        return max(1, share(self.spec.max_vus, self.index, self.count))

    async def send_on_schedule(self) -> None:
        j = self.index
        t0, step, limit = self.t0, self.count, self.max_conns()
        while not self.stopping:
            due = self.schedule.time_of(j)
            if due is None:
                return
            now = perf_counter()
            if t0 + due > now + 0.001:  # ahead: wait, waking a little early rather than late
                await asyncio.sleep(t0 + due - now - 0.0005)
                continue
            # a send made early is timed from when it left; a late one from when it was due
            self.dispatch(self.pick(), min(t0 + due, now), due, limit)
            j += step
            if j % 64 < step:
                await asyncio.sleep(0)  # never starve the responses while catching up

    def dispatch(self, endpoint: Prepared | Hop, start: float, due: float, limit: int) -> None:
        """Send on an idle connection to the endpoint's host, a new one, or (all busy) drop the send."""
        pool = self.idle.get((endpoint.host, endpoint.port))
        if pool:
            pool.pop().send(endpoint, start)
        elif self.conns < limit:
            self.conns += 1
            self.spawn(self.connect_and_send(endpoint, start))
        else:
            self.dropped += 1
            self.rec.record_dropped(endpoint.name, endpoint.class_name, due)

    def follow(self, conn: HttpConnection, hop: Hop) -> None:
        """The hop goes like a new arrival (the same connection when it stays on its host), timed from
        the first request's send; the connection's jar is the VU's: a hop to another host has its own."""
        self.after(conn)
        if not self.stopping:
            self.loop.call_soon(self.dispatch, hop, conn.start, conn.start - self.t0, self.max_conns())

    async def connect_and_send(self, endpoint: Prepared, start: float) -> None:
        self.connecting += 1
        try:
            conn = await self.connect(endpoint, self.new_jar())  # each connection is one VU
        except (TimeoutError, OSError) as exc:
            self.conns -= 1
            self.connect_failed(endpoint, start, exc)
            return
        finally:
            self.connecting -= 1
        if self.stopping:
            conn.close()
        else:
            conn.send(endpoint, start)

    def after(self, conn: HttpConnection) -> None:
        if not conn.closed and not self.stopping:
            self.idle.setdefault(conn.origin, []).append(conn)

    def lost(self, conn: HttpConnection) -> None:
        super().lost(conn)
        self.conns -= 1
        pool = self.idle.get(conn.origin)
        if pool and conn in pool:
            pool.remove(conn)


def make_generator_process(
    spec: LoadSpec,
    index: int = 0,
    count: int = 1,
    progress=None,
    should_stop=None,
    on_abort=None,
    secret_headers: dict[str, str] | None = None,
) -> GeneratorProcess:
    if spec.scenarios:
        from include.perfpipe.loadtest.scenarios import ScenariosProcess

        return ScenariosProcess(spec, index, count, progress, should_stop, on_abort, secret_headers)
    if spec.journey is not None:
        from include.perfpipe.loadtest.journey.process import make_journey_process

        return make_journey_process(spec, index, count, progress, should_stop, on_abort, secret_headers)
    cls = OpenGeneratorProcess if spec.model == "open" else ClosedGeneratorProcess
    return cls(spec, index, count, progress, should_stop, on_abort, secret_headers)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
