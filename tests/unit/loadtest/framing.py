"""Response framing cases: raw bytes a server sends and what the engine must make of them.

``VALID``: (raw response, status, body) that must parse, split anywhere, keep-alive or not.
``HOSTILE``: raw response and the named error its request must fail with.
"""

VALID = {
    "length": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, b"hello"),
    "close-no-space": (b"HTTP/1.1 200 OK\r\nConnection:close\r\nContent-Length: 5\r\n\r\nhello", 200, b"hello"),
    "close-in-list": (
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\r\nContent-Length: 5\r\n\r\nhello",
        200,
        b"hello",
    ),
    "chunked-extensions-trailers": (
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b\r\nhe\r\n3;c="d"\r\nllo\r\n0\r\n'
        b"X-Trailer: 1\r\n\r\n",
        200,
        b"hello",
    ),
    "chunked-any-case": (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        200,
        b"hello",
    ),
    "interim-1xx": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        200,
        b"hello",
    ),
    "no-content": (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 204, b""),
    "not-modified": (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 304, b""),
    "http10-keep-alive": (
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello",
        200,
        b"hello",
    ),
}
# bodies delimited by the close: valid, but only as the last response on a connection
UNTIL_CLOSE = {
    "http10-until-close": (b"HTTP/1.0 200 OK\r\n\r\nhello", 200, b"hello"),
    "until-close": (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello", 200, b"hello"),
}
HOSTILE = {
    "negative-chunk": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-10\r\nhello\r\n", "InvalidChunk"),
    "huge-chunk": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n", "InvalidChunk"),
    "negative-length": (b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello", "InvalidContentLength"),
    "two-lengths": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "InvalidContentLength"),
    "length-and-chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "AmbiguousFraming",
    ),
    "bad-status-line": (b"HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "InvalidStatusLine"),
    "four-digit-status": (b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", "InvalidStatusLine"),
    "bare-cr-in-header": (b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n", "InvalidHeader"),
    "upgrade": (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "UnexpectedUpgrade",
    ),
    "truncated": (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "RemoteProtocolError"),
}
