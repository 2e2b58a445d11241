"""Response framing cases: raw bytes a server sends and what the engine must make of them.

``VALID``: (raw response, status, body) that must parse, split anywhere, keep-alive or not.
``HOSTILE``: raw response and the named error its request must fail with.
"""

# each a 200 whose body is "hello", framed another way
_HELLO = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "close-no-space": b"HTTP/1.1 200 OK\r\nConnection:close\r\nContent-Length: 5\r\n\r\nhello",
    "close-in-list": b"HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\r\nContent-Length: 5\r\n\r\nhello",
    "chunked-extensions-trailers": b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b\r\nhe\r\n3;c="d"\r\nllo'
    b"\r\n0\r\nX-Trailer: 1\r\n\r\n",
    "chunked-any-case": b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "interim-1xx": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "http10-keep-alive": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello",
}
VALID = {
    **{name: (raw, 200, b"hello") for name, raw in _HELLO.items()},
    "no-content": (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 204, b""),
    "not-modified": (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 304, b""),
}
# bodies delimited by the close: valid, but only as the last response on a connection
UNTIL_CLOSE = {
    "http10-until-close": (b"HTTP/1.0 200 OK\r\n\r\nhello", 200, b"hello"),
    "until-close": (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello", 200, b"hello"),
}
# each error, and the raw responses whose requests must fail with it
_HOSTILE_BY_ERROR = {
    "InvalidChunk": {
        "negative-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-10\r\nhello\r\n",
        "huge-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n",
    },
    "InvalidContentLength": {
        "negative-length": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
        "two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    },
    "AmbiguousFraming": {
        "length-and-chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello"
        b"\r\n0\r\n\r\n",
    },
    "InvalidStatusLine": {
        "bad-status-line": b"HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "four-digit-status": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    },
    "InvalidHeader": {"bare-cr-in-header": b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n"},
    "UnexpectedUpgrade": {
        "upgrade": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    },
    "RemoteProtocolError": {"truncated": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"},
}
HOSTILE = {name: (raw, error) for error, cases in _HOSTILE_BY_ERROR.items() for name, raw in cases.items()}
