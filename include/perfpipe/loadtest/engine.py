"""The HTTP client of the load engine: flat weighted endpoints in the closed (VU) and open (arrival-rate)
models, on the generator process of ``loadtest.generator`` (control loop, abort rules, drain, health).

Each part of a run records into its own ``MetricsRecorder``; the connections are ``asyncio.Protocol``s
(``loadtest.http.connection``) that call back into the process: ``completed``, ``failed``, ``lost``.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import random
import ssl
from abc import abstractmethod
from bisect import bisect
from collections.abc import Callable
from time import perf_counter

import httpx

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.generator import CONNECT_BACKOFF_S, ArrivalSchedule, BaseGeneratorProcess, share
from include.perfpipe.loadtest.http.connection import HttpConnection
from include.perfpipe.loadtest.http.cookies import CookieJar
from include.perfpipe.loadtest.http.credentials import for_origin, resolve, unless_set
from include.perfpipe.loadtest.http.decoding import DecodedResponse
from include.perfpipe.loadtest.http.framing import serialise_parts
from include.perfpipe.loadtest.http.headers import DEFAULT_HEADERS, check_headers, octets
from include.perfpipe.loadtest.http.redirects import Hop, RedirectRefused, next_request
from include.perfpipe.loadtest.http.target import split_url
from include.perfpipe.loadtest.http.transport import open_connection, tls_context
from include.perfpipe.loadtest.journey.compiled import think_sampler
from include.perfpipe.loadtest.journey.models import ThinkTime
from include.perfpipe.loadtest.spec import DEFAULT_MAX_BODY_BYTES, Endpoint, LoadSpec


class Prepared:
    """An endpoint ready to send: raw request bytes, where to connect, and how to judge the response.

    ``raw`` is ``head + tail``: ``head`` ends with the last header line's CRLF, ``tail`` is the blank
    line and the body, so per-VU lines (a Cookie) can be sent between them without re-serialising.
    ``keep_body`` says that the response must be built (a check, or anything else reading it).
    """

    __slots__ = (
        "name",
        "class_name",
        "url",
        "raw",
        "head",
        "tail",
        "host",
        "port",
        "ssl",
        "expect",
        "check",
        "request",
        "no_body",
        "keep_body",
        "max_body_bytes",
    )

    def __init__(
        self,
        endpoint: Endpoint,
        verify_tls: bool = True,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        secret_headers: dict[str, str] | None = None,
    ) -> None:
        self.name, self.class_name, self.url = endpoint.name, endpoint.class_name, endpoint.url
        headers = {**DEFAULT_HEADERS, **unless_set(secret_headers or {}, endpoint.headers), **endpoint.headers}
        check_headers(headers, f"endpoint {endpoint.name!r}")
        try:
            self.request = httpx.Request(
                endpoint.method, endpoint.url, headers=octets(headers), json=endpoint.json, content=endpoint.body
            )
        except httpx.InvalidURL as exc:
            raise ConfigError(f"endpoint {endpoint.name!r}.url: {exc}") from None
        self.head, self.tail = serialise_parts(self.request)
        self.raw = self.head + self.tail
        scheme, self.host, self.port = split_url(endpoint.url)
        self.ssl = tls_context(verify_tls) if scheme == "https" else None
        self.expect = frozenset(endpoint.expect_status)
        self.check = _resolve_check(endpoint.check)
        self.no_body = endpoint.method == "HEAD"
        self.keep_body = self.check is not None
        self.max_body_bytes = max_body_bytes

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> httpx.Response:
        """The kept response (its body decoded as it arrived), as the check reads it."""
        return DecodedResponse(status, headers=headers, content=body, request=self.request)

    hops = 0  # redirects followed to reach this request

    def judge(self, status: int, response: httpx.Response | None) -> bool:
        if status not in self.expect:
            return False
        return self.check is None or bool(self.check(response))


def _resolve_check(spec: str | None) -> Callable[[httpx.Response], bool] | None:
    if spec is None:
        return None
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"check: cannot import {spec!r}: {exc}") from None


# a connect failing with these ran out of the generator's own descriptors or ports, not the target's
GENERATOR_LIMITS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS})


class GeneratorProcess(BaseGeneratorProcess):
    """The HTTP client of the engine: ``spec.endpoints`` (or a journey's steps) over keep-alive
    connections, with redirects, cookies, TLS and read timeouts. ``secret_headers`` are the values of
    ``spec.secret_headers`` (credentials)."""

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
        super().__init__(spec, index, count, progress, should_stop, on_abort)
        self.secret_headers = resolve(spec.secret_headers, secret_headers)
        self.endpoints = [
            Prepared(e, spec.verify_tls, spec.max_body_bytes, for_origin(self.secret_headers, e.url, spec.target))
            for e in spec.endpoints
            if e.weight > 0
        ]
        weights = [e.weight for e in spec.endpoints if e.weight > 0]
        self.cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]
        for e in spec.endpoints:
            self.rec.label(e.name, e.group, {**spec.tags, **e.tags})
        self.live: set[HttpConnection] = set()
        self.connecting = 0
        self.unopened = 0  # connects the generator's own limits refused (GENERATOR_LIMITS)
        self.think = think_sampler(ThinkTime.model_validate(spec.think_time))
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
            self._tls[scheme] = tls_context(self.spec.verify_tls)
        return self._tls[scheme]

    def new_jar(self) -> CookieJar | None:
        """A virtual user's cookie jar, or None when the scenario turned cookies off."""
        return CookieJar() if self.spec.cookies else None

    async def connect(self, endpoint: Prepared, cookies: CookieJar | None = None) -> HttpConnection:
        follow = self.spec.max_redirects > 0
        _, conn = await asyncio.wait_for(
            open_connection(
                self.loop, lambda: HttpConnection(self, cookies, follow), endpoint.host, endpoint.port, endpoint.ssl
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
        """When the loop pass now handing over responses began, for a response read without the kernel's
        receive time. Every response read in one pass was ready when the poll returned, so each is timed
        to the pass's first reading: the last of a burst of N responses is not charged for the N - 1
        callbacks run before its own."""
        began = self._pass_began
        if began is None:
            began = self._pass_began = perf_counter()
            self.loop.call_soon(self._end_pass)  # runs after this pass's callbacks, before the next poll
        return began

    def _end_pass(self) -> None:
        self._pass_began = None

    def record_response(self, conn: HttpConnection, status: int, response) -> None:
        now = conn.received_at
        if now < conn.sent:  # not known (TLS, not Linux), or from a clock stepped back
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

    async def watch_timeouts(self) -> None:
        period = min(1.0, self.spec.timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            deadline = perf_counter() - self.spec.timeout_s
            for conn in [c for c in self.live if c.busy and c.sent < deadline]:
                conn.fail("ReadTimeout")

    # -- client hooks ------------------------------------------------------------------------------
    def client_reasons(self) -> list[str]:
        own = []
        if self.dropped:
            own.append(
                f"{self.dropped} sends dropped: all {self.max_conns()} connections of this "
                "generator were busy (raise max_vus or add processes/shards)"
            )
        if self.unopened:
            own.append(f"{self.unopened} connections could not be opened for the generator's own file or port limits")
        return own

    def in_flight(self) -> int:
        return sum(1 for c in self.live if c.busy) + self.connecting

    def cut(self) -> None:
        for conn in list(self.live):
            conn.busy = False
            conn.close()

    # -- model hooks -------------------------------------------------------------------------------
    @abstractmethod
    def after(self, conn: HttpConnection) -> None:
        """``conn`` has its response: send again, think, or hand the connection back."""

    @abstractmethod
    def follow(self, conn: HttpConnection, hop: Hop) -> None:
        """``conn`` answered with a redirect to follow: send ``hop`` next, timed from ``conn.start``."""


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
        self.limit = self.max_conns()
        self.spawn(ArrivalSchedule(self.spec).arrive(self, self.arrival))

    def active(self) -> int:
        return self.conns - sum(len(v) for v in self.idle.values())

    def max_conns(self) -> int:
        return max(1, share(self.spec.max_vus, self.index, self.count))

    def arrival(self, start: float, due: float) -> None:
        self.dispatch(self.pick(), start, due)

    def dispatch(self, endpoint: Prepared | Hop, start: float, due: float) -> None:
        """Send on an idle connection to the endpoint's host, a new one, or (all busy) drop the send."""
        pool = self.idle.get((endpoint.host, endpoint.port))
        if pool:
            pool.pop().send(endpoint, start)
        elif self.conns < self.limit:
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
            self.loop.call_soon(self.dispatch, hop, conn.start, conn.start - self.t0)

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
