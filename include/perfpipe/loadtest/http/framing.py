"""HTTP/1.1 framing outside the connection: a request serialised to bytes, and what llhttp's verdicts on a
response are recorded as (``RESPONSE_ERRORS``, ``error_name``, ``framed``)."""

from __future__ import annotations

import httptools
import httpx

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
