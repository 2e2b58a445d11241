"""HTTP/1.1 framing outside the connection: a request serialised to bytes once (``PreparedRequest``), and what
llhttp's verdicts on a response are recorded as (``RESPONSE_ERRORS``, ``error_name``, ``framed``)."""

from __future__ import annotations

import ssl

import httptools
import httpx

from include.perfpipe.loadtest.http.decoding import DecodedResponse
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
    """A request serialised once, where it goes and how much of its answer to keep: the fields a connection
    reads (``connection.Outgoing``). ``raw`` is ``head + tail``: ``head`` ends with the last header line's CRLF,
    ``tail`` is the blank line and the body, so per-VU lines (a Cookie) go between them without
    re-serialising. ``keep_body`` says that the response must be built (``respond``); ``judge`` is the
    subclass's (a flat endpoint's ``Prepared``, a redirect's ``Hop``)."""

    __slots__ = (
        "name",
        "class_name",
        "url",
        "request",
        "raw",
        "head",
        "tail",
        "host",
        "port",
        "ssl",
        "no_body",
        "keep_body",
        "max_body_bytes",
    )
    hops = 0  # redirects followed to reach this request

    def __init__(
        self,
        name: str,
        class_name: str,
        url: str,
        request: httpx.Request,
        tls: ssl.SSLContext | None,
        keep_body: bool,
        max_body_bytes: int,
    ) -> None:
        self.name, self.class_name, self.url, self.request, self.ssl = name, class_name, url, request, tls
        self.head, self.tail = serialise_parts(request)
        self.raw = self.head + self.tail
        _, self.host, self.port = split_url(url)
        self.no_body = request.method == "HEAD"
        self.keep_body, self.max_body_bytes = keep_body, max_body_bytes

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> httpx.Response:
        """The kept response (its body decoded as it arrived), as a check reads it."""
        return DecodedResponse(status, headers=headers, content=body, request=self.request)


def serialise_parts(request: httpx.Request) -> tuple[bytes, bytes]:
    """``(request line and header lines, blank line and body)`` of ``request``."""
    head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    head += [name + b": " + value + b"\r\n" for name, value in request.headers.raw]
    return b"".join(head), b"\r\n" + request.read()


def serialise(request: httpx.Request) -> bytes:
    head, tail = serialise_parts(request)
    return head + tail


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
