"""The HTTP side of a load generator, for flat endpoints and journeys alike: keep-alive connections opened
within the spec's timeout, redirects followed within the allowlist, cookies and TLS, read timeouts, and each
response judged and recorded into the generator's recorder (``LoadGenerator.rec``).

The connections (``http.connection``) call back into it: ``completed``, ``failed``, ``lost``; the clients
(``endpoints``, ``journeys``) judge a response, say what happens after it, and its executor when a VU sends
again. Every request is a ``framing.PreparedRequest``; a redirect's next hop is one too.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from abc import abstractmethod
from time import perf_counter

from include.perfpipe.loadtest.engine.generator import LoadGenerator
from include.perfpipe.loadtest.executors.runs import executor_for
from include.perfpipe.loadtest.http.connection import HttpConnection
from include.perfpipe.loadtest.http.cookies import CookieJar
from include.perfpipe.loadtest.http.credentials import resolve
from include.perfpipe.loadtest.http.framing import PreparedRequest
from include.perfpipe.loadtest.http.redirects import RedirectRefused, next_request
from include.perfpipe.loadtest.http.transport import open_connection, tls_context

# a connect failing with these ran out of the generator's own descriptors or ports, not the target's
GENERATOR_LIMITS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS})


class HttpGenerator(LoadGenerator):
    """A load generator sending HTTP (flat endpoints or a journey's steps) over keep-alive connections,
    with redirects, cookies, TLS and read timeouts. ``secret_headers`` are the values of
    ``spec.secret_headers`` (credentials)."""

    def __init__(self, *args, secret_headers: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)  # LoadGenerator's: spec, index, count, progress, should_stop, on_abort
        self.executor = executor_for(self)
        self.secret_headers = resolve(self.spec.secret_headers, secret_headers)
        self.live: set[HttpConnection] = set()
        self.connecting = 0
        self.unopened = 0  # connects the generator's own limits refused (GENERATOR_LIMITS)
        self._pass_began: float | None = None  # see ``response_clock``
        self._tls: dict[str, ssl.SSLContext] = {}

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

    async def connect(self, request: PreparedRequest, cookies: CookieJar | None = None) -> HttpConnection:
        follow = self.spec.max_redirects > 0
        _, conn = await asyncio.wait_for(
            open_connection(
                self.loop, lambda: HttpConnection(self, cookies, follow), request.host, request.port, request.ssl
            ),
            self.spec.timeout_s,
        )
        conn.origin = (request.host, request.port)
        self.live.add(conn)
        return conn

    def completed(self, conn: HttpConnection, status: int, body: bytes | None) -> None:
        if conn.location is not None:  # a redirect, and redirects are followed
            self.redirect(conn, status)
        else:
            self.record_response(conn, status, body)

    def redirect(self, conn: HttpConnection, status: int) -> None:
        """Follow the redirect just answered (``follow``), or fail the request naming why not."""
        sent = conn.request
        try:
            if sent.hops >= self.spec.max_redirects:
                raise RedirectRefused("TooManyRedirects")
            request = next_request(sent.raw, sent.url, status, conn.location, self.spec.allowlist, self.secret_headers)
        except RedirectRefused as exc:
            self.failed(conn, exc.args[0])
            return
        hop = PreparedRequest.of(
            sent.name,
            sent.class_name,
            request,
            self.tls(request.url.scheme),
            sent.keep_body,
            sent.max_body_bytes,
            sent.hops + 1,
        )
        self.follow(conn, hop)

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

    def record_answer(self, conn: HttpConnection, ok: bool, status: int | str) -> None:
        """Record the response ``conn`` just had, as the client judged it (``status``: the code, or why it
        failed), then ``after``."""
        now = conn.received_at
        if now < conn.sent:  # not known (TLS, not Linux), or from a clock stepped back
            now = self.response_clock()
        request = conn.request
        self.requests += 1
        if not ok:
            self.errors += 1
        self.rec.record(request.name, request.class_name, now - conn.start, ok, status, now - self.t0)
        self.after(conn)

    def connect_failed(self, request: PreparedRequest, start: float, exc: Exception) -> None:
        if isinstance(exc, OSError) and exc.errno in GENERATOR_LIMITS:
            self.unopened += 1
        error = "ConnectTimeout" if isinstance(exc, asyncio.TimeoutError) else "ConnectError"
        self.record_error(request.name, request.class_name, start, error)

    def record_error(self, name: str, class_name: str, start: float, error: str) -> None:
        """A request that had no response: a failed sample of ``name`` whose status is ``error``."""
        now = perf_counter()
        self.requests += 1
        self.errors += 1
        self.rec.record(name, class_name, now - start, False, error, now - self.t0)

    def failed(self, conn: HttpConnection, error: str) -> None:
        self.record_error(conn.request.name, conn.request.class_name, conn.start, error)
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
        own = super().client_reasons()
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
    def record_response(self, conn: HttpConnection, status: int, body: bytes | None) -> None:
        """Judge the response ``conn`` just had (``body``: kept, else None; ``conn.headers``), then
        ``record_answer``."""

    @abstractmethod
    def after(self, conn: HttpConnection) -> None:
        """``conn`` has its response: send again, think, or hand the connection back."""

    @abstractmethod
    def follow(self, conn: HttpConnection, hop: PreparedRequest) -> None:
        """``conn`` answered with a redirect to follow: send ``hop`` next, timed from ``conn.start``."""
