"""HTTP/1.1 framing outside the connection: the one shape of a request to send (``PreparedRequest``), and what
llhttp's verdicts on a response are recorded as (``RESPONSE_ERRORS``, ``error_name``, ``framed``)."""

from __future__ import annotations

import ssl

import httptools
import httpx

from include.perfpipe.loadtest.http.target import split_url

MAX_HEADER_BYTES = 64 * 1024
# what a failed request is recorded as (its status in the results), besides ReadTimeout, ReadError,
# ConnectError and ConnectTimeout (and a refused redirect: ``redirects.REDIRECT_ERRORS``)
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
}


class Refused(Exception):
    """Raised inside a parser callback: the response breaks a bound; ``args[0]`` names the error."""


class PreparedRequest:
    """One request to send, serialised, and where it goes: the one shape every client hands a connection (a
    flat endpoint's, a redirect's next hop, a journey step's, a Python journey's). Nothing here judges the
    response: the client that sent the request does (``clients.endpoints.FlatEndpoint``, ``journey.session.Exchange``).

    ``raw`` is the whole request; ``head`` ends with the last header line's CRLF and ``tail`` is the blank
    line and the body, so per-VU lines (a Cookie) go between them without re-serialising. ``keep_body``: the
    response body is kept, up to ``max_body_bytes``, for the client's judge; ``request`` is what a kept
    response's ``request`` is (an ``httpx.Request``, or a ``(method, url)`` pair built into one when read);
    ``hops``: the redirects followed to reach this request; ``name`` and ``class_name`` label its samples.
    ``url`` is read from the request line when not given (a journey's templated path)."""

    __slots__ = (
        "name",
        "class_name",
        "raw",
        "host",
        "port",
        "ssl",
        "request",
        "keep_body",
        "max_body_bytes",
        "hops",
        "no_body",
        "_url",
    )

    def __init__(
        self,
        name: str,
        class_name: str,
        raw: bytes,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        request: httpx.Request | tuple[str, str],
        keep_body: bool,
        max_body_bytes: int,
        hops: int = 0,
        url: str | None = None,
    ) -> None:
        # one statement a slot: a journey builds one per request, and a tuple assignment of six costs more
        self.name = name
        self.class_name = class_name
        self.raw = raw
        self.host = host
        self.port = port
        self.ssl = tls
        self.request = request
        self.keep_body = keep_body
        self.max_body_bytes = max_body_bytes
        self.hops = hops
        self.no_body = raw.startswith(b"HEAD ")
        self._url = url

    @classmethod
    def of(
        cls,
        name: str,
        class_name: str,
        request: httpx.Request,
        tls: ssl.SSLContext | None,
        keep_body: bool,
        max_body_bytes: int,
        hops: int = 0,
        url: str | None = None,
    ) -> PreparedRequest:
        """``request`` serialised once; ``url`` as the caller wrote it (default: the request's)."""
        url = url or str(request.url)
        _, host, port = split_url(url)
        return cls(name, class_name, serialise(request), host, port, tls, request, keep_body, max_body_bytes, hops, url)

    @property
    def head(self) -> bytes:
        raw = self.raw
        return raw[: raw.index(b"\r\n\r\n") + 2]

    @property
    def tail(self) -> bytes:
        raw = self.raw
        return raw[raw.index(b"\r\n\r\n") + 2 :]

    @property
    def url(self) -> str:
        """Where the request goes (for cookies and redirects)."""
        if self._url is None:
            raw = self.raw
            target = raw[raw.index(b" ") + 1 : raw.index(b" HTTP/1.1\r\n")].decode("latin-1")
            host = f"[{self.host}]" if ":" in self.host else self.host
            self._url = f"{'https' if self.ssl else 'http'}://{host}:{self.port}{target}"
        return self._url


def serialise(request: httpx.Request) -> bytes:
    """The request line, header lines, blank line and body of ``request``."""
    head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    head += [name + b": " + value + b"\r\n" for name, value in request.headers.raw]
    return b"".join(head) + b"\r\n" + request.read()


def error_name(exc: Exception) -> str:
    if isinstance(exc.__context__, Refused):
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


def framed(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the head says where the body ends (Content-Length, or chunked last), not the close."""
    framed = False
    for name, value in headers:
        name = name.strip().lower()
        if name == b"content-length":
            framed = True
        elif name == b"transfer-encoding":
            framed = value.strip().lower().endswith(b"chunked")
    return framed
