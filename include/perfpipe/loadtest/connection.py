"""The hot path: one keep-alive HTTP/1.1 connection as an asyncio Protocol with pre-built requests.

Each endpoint becomes an ``httpx.Request`` once (headers, JSON body, auth), serialised to bytes once;
sending is one ``transport.write``. Responses are framed by llhttp (``httptools``), RFC 9112:
``Connection`` token lists, Transfer-Encoding with Content-Length refused, chunk extensions and
trailers, 1xx responses skipped, no body for HEAD, 204 and 304, read-until-close bodies. A response
the parser rejects fails its request with a named error (``RESPONSE_ERRORS``) and drops the
connection, so nothing left in the buffer can be read as the next response. Headers are capped at
``MAX_HEADER_BYTES``; a body is kept only when the endpoint needs the response (a check), up to its
``max_body_bytes``; other bodies are counted and dropped as they stream. No futures, tasks or pools
per request: the connection calls its owner back. It adds its VU's Cookie line, feeds Set-Cookie to
the VU's jar and leaves a redirect's Location for its owner (``engine.GeneratorProcess.redirect``).
"""

from __future__ import annotations

import asyncio
import importlib
import re
import ssl
import types
from collections.abc import Callable
from time import perf_counter

import httptools
import httpx

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.cookies import CookieJar
from include.perfpipe.loadtest.credentials import unless_set
from include.perfpipe.loadtest.decoding import BodyDecoder, BodyTooLarge, DecodedResponse
from include.perfpipe.loadtest.headers import check_headers, octets
from include.perfpipe.loadtest.redirects import REDIRECT_ERRORS, REDIRECT_STATUSES
from include.perfpipe.loadtest.spec import DEFAULT_MAX_BODY_BYTES, Endpoint
from include.perfpipe.loadtest.target import split_url

USER_AGENT = "perfpipe-loadtest"
MAX_HEADER_BYTES = 64 * 1024
DEFAULT_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
# what a failed request is recorded as (its status in the results), besides ReadTimeout, ReadError,
# ConnectError and ConnectTimeout
RESPONSE_ERRORS = {
    "RemoteProtocolError": "the server closed the connection before the response ended",
    "InvalidStatusLine": "the status line is not HTTP/1.x NNN",
    "InvalidContentLength": "Content-Length is not one non-negative number",
    "AmbiguousFraming": "Transfer-Encoding together with Content-Length",
    "InvalidChunk": "a chunk size or chunk framing is invalid",
    "InvalidHeader": "a header line is malformed",
    "InvalidResponse": "any other framing error",
    "UnexpectedUpgrade": "101 Switching Protocols to a request that asked for no upgrade",
    "HeadersTooLarge": f"the response head, its trailers or a chunk line exceed {MAX_HEADER_BYTES // 1024} KiB",
    "BodyTooLarge": "a body kept for a check exceeds the endpoint's max_body_bytes, as received or decoded",
    "DecodingError": "a kept body does not decode as its Content-Encoding says",
    **REDIRECT_ERRORS,
}


_WATCHED = {  # (cookies on, redirects followed): the headers that need the full parser
    (True, True): re.compile(rb"\n(?:set-cookie|location)[ \t]*:", re.IGNORECASE),
    (True, False): re.compile(rb"\n(?:set-cookie)[ \t]*:", re.IGNORECASE),
    (False, True): re.compile(rb"\n(?:location)[ \t]*:", re.IGNORECASE),
    (False, False): None,
}


class _Refused(Exception):
    """Raised inside a parser callback: the response breaks a bound; ``args[0]`` names the error."""


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
        self.ssl = _tls_context(verify_tls) if scheme == "https" else None
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


class Hop:
    """A redirect's next request on behalf of ``first`` (a ``Prepared``), named, judged and recorded
    as it; timed from the first request's send."""

    __slots__ = (
        "first",
        "hops",
        "name",
        "class_name",
        "url",
        "raw",
        "head",
        "tail",
        "host",
        "port",
        "ssl",
        "request",
        "no_body",
        "keep_body",
        "max_body_bytes",
    )

    def __init__(self, first, hops: int, request: httpx.Request, tls: ssl.SSLContext | None) -> None:
        self.first, self.hops, self.request, self.ssl = first, hops, request, tls
        self.name, self.class_name = first.name, first.class_name
        self.keep_body, self.max_body_bytes = first.keep_body, first.max_body_bytes
        self.url = str(request.url)
        self.head, self.tail = serialise_parts(request)
        self.raw = self.head + self.tail
        _, self.host, self.port = split_url(self.url)
        self.no_body = request.method == "HEAD"

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> httpx.Response:
        return DecodedResponse(status, headers=headers, content=body, request=self.request)

    def judge(self, status: int, response: httpx.Response | None) -> bool:
        return self.first.judge(status, response)


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:  # e.g. a staging service with a self-signed certificate
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def serialise_parts(request: httpx.Request) -> tuple[bytes, bytes]:
    """``(request line and header lines, blank line and body)`` of ``request``."""
    head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    head += [name + b": " + value + b"\r\n" for name, value in request.headers.raw]
    return b"".join(head), b"\r\n" + request.read()


def serialise(request: httpx.Request) -> bytes:
    head, tail = serialise_parts(request)
    return head + tail


def _resolve_check(spec: str | None) -> Callable[[httpx.Response], bool] | None:
    if spec is None:
        return None
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"check: cannot import {spec!r}: {exc}") from None


def _error_name(exc: Exception) -> str:
    if isinstance(exc.__context__, _Refused):
        return exc.__context__.args[0]
    if isinstance(exc, httptools.HttpParserUpgrade):
        return "UnexpectedUpgrade"
    if isinstance(exc, httptools.HttpParserInvalidStatusError):
        return "InvalidStatusLine"
    message = str(exc).lower()
    if "transfer-encoding" in message and "content-length" in message:
        return "AmbiguousFraming"
    for word, name in (
        ("content-length", "InvalidContentLength"),
        ("chunk", "InvalidChunk"),
        ("expected http/", "InvalidStatusLine"),
        ("status", "InvalidStatusLine"),
        ("header", "InvalidHeader"),
    ):
        if word in message:
            return name
    return "InvalidResponse"


class HttpConnection(asyncio.Protocol):
    """One connection; the owner gets ``completed(conn, status, response)``, ``failed(conn, error)``
    (the request in flight failed; the connection is dead) and, once per connection, ``lost(conn)``.

    ``response`` is what ``endpoint.respond(status, headers, body)`` made of it (an ``httpx.Response``
    for a ``Prepared``) when the endpoint keeps the body, else None. ``cookies`` is the driving VU's
    ``CookieJar`` (None: cookies off): its Cookie line joins a request when it has one for the URL,
    and a response's Set-Cookie values go into it. ``conn.location`` is the Location of a redirect
    just completed (None otherwise), when ``follow_redirects``.

    Two parsers, one per need, chosen when a response begins: llhttp frames it either way, but only
    the *full* parser calls Python once per header. A response whose head arrived whole and holds none
    of the headers the VU must see (Set-Cookie, Location), to a request that does not keep its body,
    goes through the *lean* parser, which has no header callback.
    """

    def __init__(self, owner, cookies: CookieJar | None = None, follow_redirects: bool = False) -> None:
        self.owner = owner
        self.cookies = cookies
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.busy = False
        self.endpoint: Prepared | None = None
        self.start = 0.0  # what latency is measured from (the send, or the intended send time)
        self.sent = 0.0  # when the request left, for timeouts
        self.received_at = 0.0  # when the kernel received the bytes being read (0.0: unknown)
        self.vu = None  # the closed model's virtual user driving this connection
        self.origin: tuple[str, int] | None = None  # (host, port) it was opened to
        self.headers: list[tuple[bytes, bytes]] = []
        self.location: bytes | None = None
        self._follow = follow_redirects
        self._watch = _WATCHED[(cookies is not None, follow_redirects)]
        self._first = b""  # the piece a response began with, while it is parsed
        self._full = httptools.HttpResponseParser(self)
        self._lean = self._lean_parser()
        self._parser = self._full
        self._reset()

    def _lean_parser(self) -> httptools.HttpResponseParser:
        callbacks = types.SimpleNamespace(
            on_message_begin=self.on_message_begin,
            on_headers_complete=self.on_headers_complete,
            on_body=self.on_body,
            on_message_complete=self.on_message_complete,
        )
        return httptools.HttpResponseParser(callbacks)

    def _reset(self) -> None:
        self.status = 0
        self.headers = []
        self.location = None
        self._head_bytes = 0  # of header and trailer lines parsed (full parser)
        self._quiet = 0  # bytes received since the response began or since its last body piece
        self._bodied = False  # a body piece arrived in the bytes just fed
        self._begun = False  # bytes of the response arrived (its parser is chosen)
        self._head_done = False
        self._framed = False  # Content-Length or chunked: the end is known without a close
        self._complete = False
        self._keep_alive = True
        self._parts: list[bytes] | None = None
        self._kept = 0
        self._decoder: BodyDecoder | None = None  # a kept body's Content-Encoding, undone as it arrives

    # -- sending ---------------------------------------------------------------------------------
    def send(self, endpoint: Prepared, start: float, extra_head: bytes = b"") -> None:
        """Send ``endpoint``'s request, with ``extra_head`` (complete header lines) after its headers,
        and the VU's Cookie line when its jar has one for the URL (and the request sets none itself)."""
        self.endpoint, self.start, self.busy = endpoint, start, True
        self.sent = perf_counter()
        if self.closed:  # the server closed it between connect and send
            self.busy = False
            self.owner.failed(self, "RemoteProtocolError")
            return
        self._reset()
        if endpoint.keep_body:
            self._parts = []
        cookies = self.cookies
        if cookies is not None and cookies.has_any:
            head = endpoint.head
            if b"\ncookie:" not in head.lower():
                extra_head += cookies.header_line(endpoint.url)
        self.transport.write(endpoint.head + extra_head + endpoint.tail if extra_head else endpoint.raw)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def fail(self, error: str) -> None:
        """Give up on the request in flight (e.g. a timeout) and drop the connection."""
        if self.busy:
            self.busy = False
            self.closed = True
            self._parts = None  # the connection lingers until the cycle collector runs: not its body
            self.transport.abort()
            self.owner.failed(self, error)

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        """Called once per connection: finishes or fails the request in flight, then ``lost``."""
        self.closed = True
        if self.busy and self._head_done and not self._framed and not self._complete:
            self._keep_alive = False  # a body delimited by the close
            self._finish()
        elif self.busy:
            self.busy, self._parts = False, None
            self.owner.failed(self, "ReadError" if exc is not None else "RemoteProtocolError")
        self.owner.lost(self)
        # the parsers call back into this connection (a reference cycle): dropped here, a dead connection
        # and the bytes it last read are freed at once, not at the collector's next pass
        self._full = self._lean = self._parser = None
        self._first, self._parts = b"", None

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # nothing was asked: the stream can no longer be trusted
            self.close()
            return
        if not self._begun:
            self._begun = True
            self._first = data
            self._parser = self._choose_parser(data)
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if not self._complete:
                self.fail(_error_name(exc))
                return
            if not self.endpoint.no_body:  # bytes after the response: drop the connection after it
                self._keep_alive = False
        self._first = b""
        if self._complete:
            self._finish()
        elif self._bodied:
            self._bodied, self._quiet = False, 0
        else:  # head, trailers or chunk lines: capped together, like headers
            self._quiet += len(data)
            if self._quiet > MAX_HEADER_BYTES:
                self.fail("HeadersTooLarge")

    def _choose_parser(self, data: bytes) -> httptools.HttpResponseParser:
        """The lean parser when this first piece holds the whole head of a final response with none
        of the watched headers, and the request keeps no body; else the full one."""
        if self.endpoint.keep_body:
            return self._full
        end = data.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES)
        if end < 0 or data[9:10] == b"1":  # a head in pieces, or a 1xx first
            return self._full
        watch = self._watch
        if watch is not None and watch.search(data, 0, end) is not None:
            return self._full
        return self._lean

    # -- httptools callbacks -----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._complete:  # a second response to one request
            raise _Refused("InvalidResponse")

    def on_header(self, name: bytes, value: bytes) -> None:
        """Full parser only (the lean one has no header callback)."""
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEADER_BYTES:
            raise _Refused("HeadersTooLarge")
        if not self._head_done:  # not a trailer
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        self.status = parser.get_status_code()
        if self.status < 200:
            return  # 1xx: an interim response, the real one follows
        self._head_done = True
        self._keep_alive = parser.should_keep_alive()
        # a response kept alive is framed; one that is not may still end before the close
        self._framed = self._keep_alive or _framed(self._head_lines())
        if self._parts is not None:  # a kept body: the full parser read the headers
            self._decoder = BodyDecoder.of(self.headers, self.endpoint.max_body_bytes)
        if self.endpoint.no_body:  # HEAD: whatever the headers say, no body follows
            self._complete = True
            raise _Refused("HEAD")  # stops this parser here; _finish replaces it

    def on_body(self, body: bytes) -> None:
        self._bodied = True
        parts = self._parts
        if parts is not None:
            self._kept += len(body)
            if self._kept > self.endpoint.max_body_bytes:
                raise _Refused("BodyTooLarge")
            if self._decoder is not None:
                try:
                    body = self._decoder.feed(body)
                except BodyTooLarge:
                    raise _Refused("BodyTooLarge") from None
                except ValueError:
                    raise _Refused("DecodingError") from None
            parts.append(body)

    def on_message_complete(self) -> None:
        if self.status < 200:  # the 1xx ended: start over for the final response
            self.headers, self._head_bytes = [], 0
            return
        self._complete = True

    # -- completion --------------------------------------------------------------------------------
    def _finish(self) -> None:
        status, endpoint, headers = self.status, self.endpoint, self.headers
        if endpoint.no_body:
            if self._parser is self._full:
                self._full = httptools.HttpResponseParser(self)
            else:
                self._lean = self._lean_parser()
        if headers and self._watch is not None:
            self._read_watched(status, headers, endpoint)
        response, parts, self._parts = None, self._parts, None
        if parts is not None:
            response = endpoint.respond(status, headers, b"".join(parts))
        keep_alive = self._keep_alive
        self.busy = False
        if not keep_alive:
            self.close()
        self.owner.completed(self, status, response)

    def _read_watched(self, status: int, headers: list[tuple[bytes, bytes]], endpoint) -> None:
        cookies, set_cookies = self.cookies, []
        for name, value in headers:
            size = len(name)
            if size == 10 and cookies is not None and name.lower() == b"set-cookie":
                set_cookies.append(value)
            elif size == 8 and status in REDIRECT_STATUSES and name.lower() == b"location":
                self.location = value
        if set_cookies:
            cookies.store(endpoint.url, set_cookies)
        if not self._follow:
            self.location = None  # redirects are off: a Location is only a header

    def _head_lines(self) -> list[tuple[bytes, bytes]]:
        """The final response's header pairs: kept by the full parser, read from the head by the lean."""
        if self._parser is self._full:
            return self.headers
        head = self._first[: self._first.find(b"\r\n\r\n")]
        return [line.partition(b":")[::2] for line in head.split(b"\r\n")[1:]]


def _framed(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the head says where the body ends (Content-Length, or chunked last), not the close."""
    framed = False
    for name, value in headers:
        name = name.strip().lower()
        if name == b"content-length":
            framed = True
        elif name == b"transfer-encoding":
            framed = value.strip().lower().endswith(b"chunked")
    return framed
