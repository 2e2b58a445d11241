"""The hot path: one keep-alive HTTP/1.1 connection as an asyncio Protocol sending pre-built requests.

A client hands it a ``framing.PreparedRequest`` (the request serialised once, where it goes, whether to keep
the body); sending is one ``transport.write``. Responses are framed by llhttp (``httptools``), RFC 9112:
``Connection`` token lists, Transfer-Encoding with Content-Length refused, chunk extensions and
trailers, 1xx responses skipped, no body for HEAD, 204 and 304, read-until-close bodies. A response
the parser rejects fails its request with a named error (``framing.RESPONSE_ERRORS``) and drops the
connection, so nothing left in the buffer can be read as the next response. Headers are capped at
``MAX_HEADER_BYTES``; a body is kept only when the request asks (``keep_body``: a check), up to its
``max_body_bytes``; other bodies are counted and dropped as they stream. No futures, tasks or pools
per request: the connection calls its owner back with the status and the kept body, and the client judges
them. It adds its VU's Cookie line, feeds Set-Cookie to the VU's jar and leaves a redirect's Location for
its owner (``clients.http_generator.HttpGenerator.redirect``).
"""

from __future__ import annotations

import asyncio
import re
import types
from time import perf_counter

import httptools

from include.perfpipe.loadtest.http.cookies import CookieJar
from include.perfpipe.loadtest.http.decoding import BodyDecoder, BodyTooLarge
from include.perfpipe.loadtest.http.framing import MAX_HEADER_BYTES, PreparedRequest, Refused, error_name, framed
from include.perfpipe.loadtest.http.redirects import REDIRECT_STATUSES

_WATCHED = {  # (cookies on, redirects followed): the headers that need the full parser
    (True, True): re.compile(rb"\n(?:set-cookie|location)[ \t]*:", re.IGNORECASE),
    (True, False): re.compile(rb"\n(?:set-cookie)[ \t]*:", re.IGNORECASE),
    (False, True): re.compile(rb"\n(?:location)[ \t]*:", re.IGNORECASE),
    (False, False): None,
}


class HttpConnection(asyncio.Protocol):
    """One connection; the owner gets ``completed(conn, status, body)``, ``failed(conn, error)``
    (the request in flight failed; the connection is dead) and, once per connection, ``lost(conn)``.

    ``body`` is the response body (decoded) when the request keeps it, else None; ``conn.headers`` are the
    response's header pairs then. ``cookies`` is the driving VU's
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
        self.request: PreparedRequest | None = None
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
    def send(self, request: PreparedRequest, start: float, extra_head: bytes = b"") -> None:
        """Send ``request``, with ``extra_head`` (complete header lines) after its headers,
        and the VU's Cookie line when its jar has one for the URL (and the request sets none itself)."""
        self.request, self.start, self.busy = request, start, True
        self.sent = perf_counter()
        if self.closed:  # the server closed it between connect and send
            self.busy = False
            self.owner.failed(self, "RemoteProtocolError")
            return
        self._reset()
        if request.keep_body:
            self._parts = []
        cookies = self.cookies
        if cookies is not None and cookies.has_any:
            head = request.head
            if b"\ncookie:" not in head.lower():
                extra_head += cookies.header_line(request.url)
        self.transport.write(request.head + extra_head + request.tail if extra_head else request.raw)

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
                self.fail(error_name(exc))
                return
            if not self.request.no_body:  # bytes after the response: drop the connection after it
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
        if self.request.keep_body:
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
            raise Refused("InvalidResponse")

    def on_header(self, name: bytes, value: bytes) -> None:
        """Full parser only (the lean one has no header callback)."""
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEADER_BYTES:
            raise Refused("HeadersTooLarge")
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
        self._framed = self._keep_alive or framed(self._head_lines())
        if self._parts is not None:  # a kept body: the full parser read the headers
            self._decoder = BodyDecoder.of(self.headers, self.request.max_body_bytes)
        if self.request.no_body:  # HEAD: whatever the headers say, no body follows
            self._complete = True
            raise Refused("HEAD")  # stops this parser here; _finish replaces it

    def on_body(self, body: bytes) -> None:
        self._bodied = True
        parts = self._parts
        if parts is not None:
            self._kept += len(body)
            if self._kept > self.request.max_body_bytes:
                raise Refused("BodyTooLarge")
            if self._decoder is not None:
                try:
                    body = self._decoder.feed(body)
                except BodyTooLarge:
                    raise Refused("BodyTooLarge") from None
                except ValueError:
                    raise Refused("DecodingError") from None
            parts.append(body)

    def on_message_complete(self) -> None:
        if self.status < 200:  # the 1xx ended: start over for the final response
            self.headers, self._head_bytes = [], 0
            return
        self._complete = True

    # -- completion --------------------------------------------------------------------------------
    def _finish(self) -> None:
        status, request, headers = self.status, self.request, self.headers
        if request.no_body:
            if self._parser is self._full:
                self._full = httptools.HttpResponseParser(self)
            else:
                self._lean = self._lean_parser()
        if headers and self._watch is not None:
            self._read_watched(status, headers, request)
        body, parts, self._parts = None, self._parts, None
        if parts is not None:
            body = b"".join(parts)
        keep_alive = self._keep_alive
        self.busy = False
        if not keep_alive:
            self.close()
        self.owner.completed(self, status, body)

    def _read_watched(self, status: int, headers: list[tuple[bytes, bytes]], request) -> None:
        cookies, set_cookies = self.cookies, []
        for name, value in headers:
            size = len(name)
            if size == 10 and cookies is not None and name.lower() == b"set-cookie":
                set_cookies.append(value)
            elif size == 8 and status in REDIRECT_STATUSES and name.lower() == b"location":
                self.location = value
        if set_cookies:
            cookies.store(request.url, set_cookies)
        if not self._follow:
            self.location = None  # redirects are off: a Location is only a header

    def _head_lines(self) -> list[tuple[bytes, bytes]]:
        """The final response's header pairs: kept by the full parser, read from the head by the lean."""
        if self._parser is self._full:
            return self.headers
        head = self._first[: self._first.find(b"\r\n\r\n")]
        return [line.partition(b":")[::2] for line in head.split(b"\r\n")[1:]]
