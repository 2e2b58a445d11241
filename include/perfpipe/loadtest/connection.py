"""The hot path: one keep-alive HTTP/1.1 connection as an asyncio Protocol with pre-built requests.

Each endpoint becomes an ``httpx.Request`` once (headers, JSON body, auth), serialised to bytes once;
sending is one ``transport.write`` and the response is parsed just enough to know its status and
where it ends (Content-Length, chunked, or connection close). No futures, tasks or pools per request:
the connection calls its owner back, so the generator spends its time on the wire, not on itself.
Only endpoints with a ``check`` keep the body and get an ``httpx.Response`` built.
"""
from __future__ import annotations

import asyncio
import importlib
import ssl
from collections.abc import Callable
from time import perf_counter

import httpx

from include.perfpipe.loadtest.spec import Endpoint
from include.perfpipe.loadtest.target import split_url

USER_AGENT = "perfpipe-loadtest"
_LENGTH, _CHUNKED, _UNTIL_CLOSE, _TRAILER = 0, 1, 2, 3


class Prepared:
    """An endpoint ready to send: raw request bytes, where to connect, and how to judge the response."""

    __slots__ = ("name", "klass", "raw", "host", "port", "ssl", "expect", "check", "request", "no_body")

    def __init__(self, endpoint: Endpoint, verify_tls: bool = True) -> None:
        self.name, self.klass = endpoint.name, endpoint.klass
        self.request = httpx.Request(
            endpoint.method, endpoint.url, headers={"User-Agent": USER_AGENT, **endpoint.headers},
            json=endpoint.json, content=endpoint.body,
        )
        self.raw = serialise(self.request)
        scheme, self.host, self.port = split_url(endpoint.url)
        self.ssl = _tls_context(verify_tls) if scheme == "https" else None
        self.expect = frozenset(endpoint.expect_status)
        self.check = _resolve_check(endpoint.check)
        self.no_body = endpoint.method == "HEAD"

    def judge(self, status: int, response: httpx.Response | None) -> bool:
        if status not in self.expect:
            return False
        return self.check is None or bool(self.check(response))


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:  # e.g. a staging service with a self-signed certificate
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def serialise(request: httpx.Request) -> bytes:
    head = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    head += [name + b": " + value for name, value in request.headers.raw]
    return b"\r\n".join(head) + b"\r\n\r\n" + request.read()


def _resolve_check(spec: str | None) -> Callable[[httpx.Response], bool] | None:
    if spec is None:
        return None
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"check: cannot import {spec!r}: {exc}") from None


class HttpConnection(asyncio.Protocol):
    """One connection; the owner gets ``completed(conn, status, response)``, ``failed(conn, error)``
    (the request in flight failed; the connection is dead) and, once per connection, ``lost(conn)``."""

    def __init__(self, owner) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.busy = False
        self.endpoint: Prepared | None = None
        self.start = 0.0  # what latency is measured from (the send, or the intended send time)
        self.sent = 0.0  # when the request left, for timeouts
        self.vu = None  # the closed model's virtual user driving this connection
        self._reset()

    def _reset(self) -> None:
        self._buf = b""
        self._status = 0
        self._mode = _LENGTH
        self._left = 0
        self._keep_alive = True
        self._head = b""
        self._parts: list[bytes] | None = None

    # -- sending ---------------------------------------------------------------------------------
    def send(self, endpoint: Prepared, start: float) -> None:
        self.endpoint, self.start, self.busy = endpoint, start, True
        self.sent = perf_counter()
        if self.closed:  # the server closed it between connect and send
            self.busy = False
            self.owner.failed(self, "RemoteProtocolError")
            return
        if endpoint.check is not None:
            self._parts = []
        self.transport.write(endpoint.raw)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def fail(self, error: str) -> None:
        """Give up on the request in flight (e.g. a timeout) and drop the connection."""
        if self.busy:
            self.busy = False
            self.closed = True
            self.transport.abort()
            self.owner.failed(self, error)

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        """Called once per connection: finishes or fails the request in flight, then ``lost``."""
        self.closed = True
        if self.busy and self._status and self._mode == _UNTIL_CLOSE:
            self._keep_alive = False
            self._finish()
        elif self.busy:
            self.busy = False
            self.owner.failed(self, "ReadError" if exc is not None else "RemoteProtocolError")
        self.owner.lost(self)

    def data_received(self, data: bytes) -> None:
        if not self.busy:
            return  # nothing was asked: ignore stray bytes (the server will close if it meant it)
        buf = self._buf + data if self._buf else data
        try:
            if not self._status:
                buf = self._read_head(buf)
                if buf is None:
                    return
            self._read_body(buf)
        except ValueError:
            self.fail("RemoteProtocolError")

    # -- parsing --------------------------------------------------------------------------------
    def _read_head(self, buf: bytes) -> bytes | None:
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._buf = buf
                return None
            head, buf = buf[:end], buf[end + 4:]
            if head[:5] != b"HTTP/":
                raise ValueError("not an HTTP response")
            status = int(head[9:12])
            if not 100 <= status < 200:
                break
        lower = head.lower()
        self._status = status
        self._keep_alive = b"\r\nconnection: close" not in lower and (
            head[:8] != b"HTTP/1.0" or b"\r\nconnection: keep-alive" in lower
        )
        if self._parts is not None:
            self._head = head
        if self.endpoint.no_body or status in (204, 304):
            self._mode, self._left = _LENGTH, 0
        elif b"\r\ntransfer-encoding:" in lower and b"chunked" in lower:
            self._mode, self._left = _CHUNKED, 0
        else:
            at = lower.find(b"\r\ncontent-length:")
            if at < 0:
                self._mode = _UNTIL_CLOSE
            else:
                eol = lower.find(b"\r\n", at + 17)
                self._mode, self._left = _LENGTH, int(lower[at + 17: eol if eol > 0 else None])
        return buf

    def _read_body(self, buf: bytes) -> None:
        parts = self._parts
        if self._mode == _LENGTH:
            if len(buf) >= self._left:
                if parts is not None:
                    parts.append(buf[: self._left])
                self._finish()
            else:
                self._left -= len(buf)
                self._buf = b""
                if parts is not None:
                    parts.append(buf)
        elif self._mode == _UNTIL_CLOSE:
            self._buf = b""
            if parts is not None:
                parts.append(buf)
        elif self._read_chunked(buf):
            self._finish()

    def _read_chunked(self, buf: bytes) -> bool:
        pos, size = 0, len(buf)
        while True:
            if self._mode == _TRAILER:
                if buf[pos: pos + 2] == b"\r\n":
                    return True
                end = buf.find(b"\r\n\r\n", pos)
                if end >= 0:
                    return True
                self._buf = buf[pos:]
                return False
            if self._left:  # inside a chunk: data then its CRLF
                take = min(self._left, size - pos)
                if self._parts is not None:
                    self._parts.append(buf[pos: pos + min(take, max(self._left - 2, 0))])
                pos += take
                self._left -= take
                if self._left:
                    self._buf = b""
                    return False
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                self._buf = buf[pos:]
                return False
            length = int(buf[pos:eol].split(b";", 1)[0], 16)
            pos = eol + 2
            if length == 0:
                self._mode = _TRAILER
            else:
                self._left = length + 2

    def _finish(self) -> None:
        status, endpoint = self._status, self.endpoint
        response = None
        if self._parts is not None:
            response = _response(endpoint.request, self._head, b"".join(self._parts))
        keep_alive = self._keep_alive
        self._reset()
        self.busy = False
        if not keep_alive:
            self.close()
        self.owner.completed(self, status, response)


def _response(request: httpx.Request, head: bytes, body: bytes) -> httpx.Response:
    lines = head.split(b"\r\n")
    headers = [tuple(part.strip() for part in line.split(b":", 1)) for line in lines[1:] if b":" in line]
    return httpx.Response(int(lines[0][9:12]), headers=headers, content=body, request=request)
