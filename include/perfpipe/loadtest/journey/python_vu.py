"""The ``vu`` an ``async def journey(vu)`` receives: httpx-shaped requests on the VU's own
connection, its variables and feeder rows, think time and timed groups."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partialmethod
from time import perf_counter

import httpx

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.http.framing import PreparedRequest
from include.perfpipe.loadtest.http.target import check_target
from include.perfpipe.loadtest.journey.python_request import build, locate
from include.perfpipe.loadtest.journey.session import Exchange
from include.perfpipe.loadtest.journey.template import EncodeError


class RequestFailed(Exception):
    """No response: the connection failed or timed out; ``error`` is the recorded name."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class TestEnded(BaseException):
    """The test is over (or this VU was ramped down): the journey stops where it is. A ``BaseException``,
    as ``asyncio.CancelledError`` is, so that a journey's ``except Exception`` does not swallow it."""


class MetricHandle:
    """``add(value)``: a counter adds it, a gauge is set to it, a rate counts its truth, a trend records it."""

    __slots__ = ("_shard", "_name")

    def __init__(self, shard, name: str) -> None:
        self._shard, self._name = shard, name

    def add(self, value=1) -> None:
        shard = self._shard
        shard.stats.metrics.add(self._name, value, perf_counter() - shard.t0)


class PythonVU:
    RequestFailed = RequestFailed

    def __init__(self, shard, session) -> None:
        self._shard, self._session = shard, session
        self.began = False  # asked for a request or a pause before the run ended (else the iteration is UNSTARTED)

    @property
    def number(self) -> int:
        return self._session.number

    @property
    def iteration(self) -> int:
        return self._session.iteration

    @property
    def vars(self) -> dict:
        return self._session.vars

    def feed(self, name: str) -> dict:
        """The next row of feeder ``name`` (``FeederExhausted`` stops a VU whose sequential rows ran out)."""
        try:
            _, feeder = self._shard.feeders[name]
        except KeyError:
            raise KeyError(f"no feeder {name!r}; feeders: {sorted(self._shard.feeders)}") from None
        row = self._session.rows[name] = feeder.next_row()
        return row

    async def sleep(self, seconds: float) -> None:
        """Think time; the end of the test cuts it short and ends the journey (``TestEnded``)."""
        shard, session = self._shard, self._session
        self.began = self.began or not shard.over(session)
        await shard.pause(session, seconds)
        if shard.over(session):
            await self._ended()

    @asynccontextmanager
    async def group(self, name: str):
        """Times the block as one row of the run's groups (failed when it raises)."""
        shard, start = self._shard, perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            now = perf_counter()
            shard.stats.record_group(name, now - start, ok, now - shard.t0)

    def metric(self, name: str) -> MetricHandle:
        """The custom metric ``name`` declared in the scenario file: ``vu.metric("orders").add(1)``."""
        if name not in self._shard.stats.metrics.metrics:
            raise KeyError(f"no metric {name!r}; declared metrics: {sorted(self._shard.stats.metrics.metrics)}")
        return MetricHandle(self._shard, name)

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict | None = None,
        json=None,
        content=None,
        name: str | None = None,
        klass: str = "api",
        expect_status: int | list[int] = 200,
    ) -> httpx.Response:
        shard, session = self._shard, self._session
        if shard.over(session):
            await self._ended()
        self.began = True
        url = path if path.startswith(("http://", "https://")) else shard.base_url + path
        target = locate(shard.base_url, path)
        scheme, host, port = origin = target[:3]
        if origin not in shard.allowed_origins:
            check_target(url, shard.spec.allowlist)
            shard.allowed_origins.add(origin)
        method = method.upper()
        name = name or f"{method} {path.split('?')[0]}"
        try:
            base = shard.header_base if origin == shard.target_origin else shard.foreign_header_base
            raw = build(method, target, base, headers, json, content)
        except (ConfigError, UnicodeEncodeError) as exc:  # a header with a line break or outside Latin-1
            error = EncodeError(str(exc) if isinstance(exc, ConfigError) else "the request does not encode")
            shard.unsendable(name, klass, error, f"journey request {name!r}")
            raise RequestFailed("EncodeError") from None
        request = PreparedRequest(
            name, klass, raw, host, port, shard.tls(scheme), (method, url), True, shard.spec.max_body_bytes
        )
        exchange = Exchange(request, frozenset([expect_status] if isinstance(expect_status, int) else expect_status))
        await shard.exchange(session, exchange)
        if exchange.response is None:
            if shard.over(session):
                await self._ended()
            raise RequestFailed(exchange.label or "NoResponse")
        return exchange.response

    async def _ended(self) -> None:
        """Raise ``TestEnded``; a journey that swallowed it (a bare ``except``) and asks again is let go:
        nothing is sent, the drain no longer waits for it, and its task is cancelled at the drain's end."""
        session = self._session
        if session.told_ended:
            await self._shard.let_go(session)
        session.told_ended = True
        raise TestEnded()

    get = partialmethod(request, "GET")
    post = partialmethod(request, "POST")
    put = partialmethod(request, "PUT")
    patch = partialmethod(request, "PATCH")
    delete = partialmethod(request, "DELETE")
    head = partialmethod(request, "HEAD")
    options = partialmethod(request, "OPTIONS")
