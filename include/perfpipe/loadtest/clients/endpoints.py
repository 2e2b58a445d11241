"""Flat weighted endpoints, the fast path: each request a pre-built ``Prepared`` picked by weight, sent on a
keep-alive connection by the callbacks of ``HttpGenerator``; no task or future per request.

Closed model (``ClosedEndpoints``): each VU sends, waits for the response, thinks, and sends again. Open model
(``OpenEndpoints``): the arrivals of ``ArrivalSchedule.arrive`` take an idle connection, a new one, or are dropped.
"""

from __future__ import annotations

import importlib
import random
from bisect import bisect
from collections.abc import Callable
from time import perf_counter

import httpx

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.clients.http_generator import HttpGenerator
from include.perfpipe.loadtest.contract import DEFAULT_MAX_BODY_BYTES, Endpoint
from include.perfpipe.loadtest.engine.generator import CONNECT_BACKOFF_S, share
from include.perfpipe.loadtest.http.connection import HttpConnection
from include.perfpipe.loadtest.http.cookies import CookieJar
from include.perfpipe.loadtest.http.credentials import for_origin, unless_set
from include.perfpipe.loadtest.http.framing import PreparedRequest
from include.perfpipe.loadtest.http.headers import DEFAULT_HEADERS, check_headers, octets
from include.perfpipe.loadtest.http.redirects import Hop
from include.perfpipe.loadtest.http.target import split_url
from include.perfpipe.loadtest.http.transport import tls_context
from include.perfpipe.loadtest.journey.compiled import think_sampler
from include.perfpipe.loadtest.journey.models import ThinkTime


class Prepared(PreparedRequest):
    """A flat endpoint ready to send (serialised once, its credentials for its own origin only) and how its
    response is judged: the expected statuses, then the endpoint's ``check``."""

    __slots__ = ("expect", "check")

    def __init__(
        self,
        endpoint: Endpoint,
        verify_tls: bool = True,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        secret_headers: dict[str, str] | None = None,
    ) -> None:
        headers = {**DEFAULT_HEADERS, **unless_set(secret_headers or {}, endpoint.headers), **endpoint.headers}
        check_headers(headers, f"endpoint {endpoint.name!r}")
        try:
            request = httpx.Request(
                endpoint.method, endpoint.url, headers=octets(headers), json=endpoint.json, content=endpoint.body
            )
        except httpx.InvalidURL as exc:
            raise ConfigError(f"endpoint {endpoint.name!r}.url: {exc}") from None
        self.expect = frozenset(endpoint.expect_status)
        self.check = _resolve_check(endpoint.check)
        tls = tls_context(verify_tls) if split_url(endpoint.url)[0] == "https" else None
        keep_body = self.check is not None
        super().__init__(endpoint.name, endpoint.class_name, endpoint.url, request, tls, keep_body, max_body_bytes)

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


class FlatEndpoints(HttpGenerator):
    """``spec.endpoints``, each ``Prepared`` once and picked by weight for every request."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        spec = self.spec
        self.endpoints = [
            Prepared(e, spec.verify_tls, spec.max_body_bytes, for_origin(self.secret_headers, e.url, spec.target))
            for e in spec.endpoints
            if e.weight > 0
        ]
        weights = [e.weight for e in spec.endpoints if e.weight > 0]
        self.cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]
        for e in spec.endpoints:
            self.rec.label(e.name, e.group, {**spec.tags, **e.tags})
        self.think = think_sampler(ThinkTime.model_validate(spec.think_time))

    def pick(self) -> Prepared:
        if len(self.endpoints) == 1:
            return self.endpoints[0]
        return self.endpoints[bisect(self.cumulative, random.random() * self.cumulative[-1])]


class _VU:
    __slots__ = ("conn", "retired", "cookies", "hop", "hop_start")

    def __init__(self, cookies: CookieJar | None) -> None:
        self.conn: HttpConnection | None = None
        self.retired = False
        self.cookies = cookies
        self.hop: Hop | None = None  # a redirect to follow next, timed from hop_start
        self.hop_start = 0.0


class ClosedEndpoints(FlatEndpoints):
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


class OpenEndpoints(FlatEndpoints):
    """Open model: requests leave at the profile's arrival rate whatever the responses do; latency runs
    from the intended send time (coordinated omission corrected, as wrk2); with every connection
    busy the send is dropped and counted (k6 dropped_iterations)."""

    def begin(self) -> None:
        self.idle: dict[tuple, list[HttpConnection]] = {}
        self.conns = 0  # open or opening
        self.limit = self.max_conns()
        self.send_arrivals(self.arrival)

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
        if self.abort_reason is not None:
            conn.close()
        else:  # an arrival due before the end goes, even on a connection the end of the run found opening
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
