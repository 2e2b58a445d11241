"""Flat weighted endpoints, the fast path: each endpoint's request serialised once (``FlatEndpoint``), picked
by weight and sent on a keep-alive connection by the callbacks of ``HttpGenerator``; no task or future per
request. The VU keeps the endpoint it sent, and its response (or a redirect's) is judged by it.

Its executor (``loadtest.executors``) runs the VUs: in the closed model each VU sends, waits for the response,
thinks, and sends again; in the open model each arrival takes an idle VU, a new one, or is dropped.
"""

from __future__ import annotations

import importlib
import random
from bisect import bisect
from collections.abc import Callable

import httpx

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.clients.http_generator import HttpGenerator
from include.perfpipe.loadtest.contract import DEFAULT_MAX_BODY_BYTES, Endpoint
from include.perfpipe.loadtest.engine.client import ENDED, OK
from include.perfpipe.loadtest.engine.generator import CONNECT_BACKOFF_S
from include.perfpipe.loadtest.http.connection import HttpConnection
from include.perfpipe.loadtest.http.cookies import CookieJar
from include.perfpipe.loadtest.http.credentials import for_origin, unless_set
from include.perfpipe.loadtest.http.decoding import DecodedResponse
from include.perfpipe.loadtest.http.framing import PreparedRequest
from include.perfpipe.loadtest.http.headers import DEFAULT_HEADERS, check_headers, octets
from include.perfpipe.loadtest.http.target import split_url
from include.perfpipe.loadtest.http.transport import tls_context
from include.perfpipe.loadtest.journey.compiled import think_sampler


class FlatEndpoint:
    """A flat endpoint: its ``request``, serialised once with its credentials for its own origin only, and
    how its response is judged: the expected statuses, then the endpoint's ``check`` (its body is kept)."""

    __slots__ = ("request", "expect", "check")

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
        self.request = PreparedRequest.of(
            endpoint.name, endpoint.class_name, request, tls, keep_body, max_body_bytes, url=endpoint.url
        )

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
    """``spec.endpoints``, each a ``FlatEndpoint`` once and picked by weight for every request. A VU's iteration is
    one request (its redirects followed) and, in the closed model, its think time."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        spec = self.spec
        self.endpoints = [
            FlatEndpoint(e, spec.verify_tls, spec.max_body_bytes, for_origin(self.secret_headers, e.url, spec.target))
            for e in spec.endpoints
            if e.weight > 0
        ]
        weights = [e.weight for e in spec.endpoints if e.weight > 0]
        self.cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]
        for e in spec.endpoints:
            self.rec.label(e.name, e.group, {**spec.tags, **e.tags})
        closed = spec.model == "closed"
        self.think = think_sampler(spec.think_time) if closed else None
        self.connect_backoff_s = CONNECT_BACKOFF_S if closed else 0.0  # an open model's arrivals are not held up

    def pick(self) -> FlatEndpoint:
        if len(self.endpoints) == 1:
            return self.endpoints[0]
        return self.endpoints[bisect(self.cumulative, random.random() * self.cumulative[-1])]

    # -- what the executor drives ------------------------------------------------------------------
    def new_vu(self, _i: int) -> _VU:
        return _VU(self.new_jar())

    def enter(self, _vu: _VU) -> bool:
        return True

    def vu_stopped(self, _vu: _VU) -> None:
        """A flat VU never stops itself."""

    def dropped_label(self) -> tuple[str, str]:
        request = self.pick().request
        return request.name, request.class_name

    def iterate(self, vu: _VU, start: float, due: float) -> None:
        endpoint = vu.endpoint = self.pick()
        self.send(vu, endpoint.request, start)

    def leave(self, vu: _VU) -> None:
        if vu.conn is not None:
            vu.conn.close()

    # -- one request -------------------------------------------------------------------------------
    def send(self, vu: _VU, request: PreparedRequest, start: float) -> None:
        """Send on the VU's open connection when it goes to the same host, else on a new one."""
        conn = vu.conn
        if conn is not None and not conn.closed and conn.origin == (request.host, request.port):
            conn.send(request, start)
        else:
            if conn is not None:
                conn.close()
            vu.conn = None
            self.spawn(self.connect_and_send(vu, request, start))

    async def connect_and_send(self, vu: _VU, request: PreparedRequest, start: float) -> None:
        self.connecting += 1
        try:
            conn = await self.connect(request, vu.cookies)
        except (TimeoutError, OSError) as exc:
            self.connect_failed(request, start, exc)
            self.loop.call_later(self.connect_backoff_s, self.executor.ended, vu, OK)
            return
        finally:
            self.connecting -= 1
        conn.vu, vu.conn = vu, conn
        if vu.retired or self.abort_reason is not None:
            conn.close()
            self.executor.ended(vu, ENDED)
        else:  # an iteration that began before the end goes, even on a connection the end found opening
            conn.send(request, start)

    def record_response(self, conn: HttpConnection, status: int, body: bytes | None) -> None:
        """Judged by the endpoint the VU sent (a redirect's hop too); a kept body as an ``httpx.Response``."""
        endpoint = conn.vu.endpoint
        if endpoint.check is None:  # the status judges it: one call fewer a response, 0.1 of 4.5 µs in process
            self.record_answer(conn, status in endpoint.expect, status)
            return
        try:
            response = None
            if body is not None:
                response = DecodedResponse(status, headers=conn.headers, content=body, request=conn.request.request)
            ok = endpoint.judge(status, response)
        except Exception:  # a user check that raises is a failed check, not a crashed generator
            ok, status = False, "CheckError"
        self.record_answer(conn, ok, status)

    def after(self, conn: HttpConnection) -> None:
        vu = conn.vu
        if self.think is not None and not (vu.retired or self.stopping):
            self.loop.call_later(self.think(), self.executor.ended, vu, OK)
        else:
            self.executor.ended(vu, OK)

    def follow(self, conn: HttpConnection, hop: PreparedRequest) -> None:
        """The hop goes next in the same iteration, timed from the first request's send; a hop to another
        host goes on a new connection with the VU's jar."""
        vu = conn.vu
        if self.stopping:
            self.executor.ended(vu, ENDED)
        else:
            self.loop.call_soon(self.send, vu, hop, conn.start)


class _VU:
    """A virtual user: its connection (to one host at a time), its cookie jar and the endpoint it sent last."""

    __slots__ = ("conn", "retired", "cookies", "endpoint")

    def __init__(self, cookies: CookieJar | None) -> None:
        self.conn: HttpConnection | None = None
        self.endpoint: FlatEndpoint | None = None
        self.retired = False
        self.cookies = cookies
