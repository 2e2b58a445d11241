"""A Python journey's request as bytes, without an ``httpx.Request`` per send.

``vu.get("/items/7", headers=..., json=...)`` becomes the request line, ``Host``, the merged headers
(httpx's defaults of ours, the scenario's, then the call's, a later name winning whatever its case),
and a JSON body encoded as httpx encodes it. Each distinct origin and URL is parsed by httpx once
(``lru_cache``); a path of plain URL characters is appended to its origin's without parsing.
Anything else (a streaming body) is left to ``httpx.Request``.
"""

from __future__ import annotations

import json as jsonlib
import re
from functools import lru_cache

import httpx

from include.perfpipe.loadtest.http.framing import serialise
from include.perfpipe.loadtest.http.headers import check_headers, octets
from include.perfpipe.loadtest.http.target import split_url

_PLAIN_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*")  # needs no percent-encoding
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


@lru_cache(maxsize=4096)
def parse_url(url: str) -> tuple[str, str, int, bytes, bytes]:
    """``(scheme, host, port, Host header line, request target)`` of ``url``."""
    scheme, host, port = split_url(url)
    parsed = httpx.URL(url)
    return scheme, host, port, b"Host: " + parsed.netloc + b"\r\n", parsed.raw_path


def locate(base: str, path: str) -> tuple[str, str, int, bytes, bytes]:
    """Where ``path`` (absolute URL, or a path under ``base``) goes, as ``parse_url`` gives it."""
    if path.startswith(("http://", "https://")):
        return parse_url(path)
    if _PLAIN_PATH.fullmatch(path):
        scheme, host, port, host_line, prefix = parse_url(base + "/")
        return scheme, host, port, host_line, prefix[:-1] + path.encode("ascii")
    return parse_url(base + path)


class HeaderBase:
    """The headers every request of a Python journey starts with, serialised once."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.lines = [(name.lower(), f"{name}: {value}\r\n".encode("latin-1")) for name, value in headers.items()]
        self.block = b"".join(line for _, line in self.lines)

    def merged(self, given: dict | None) -> tuple[bytes, set[str]]:
        """The header block with ``given`` over the base, and the lower-case names sent."""
        if not given:
            return self.block, {name for name, _ in self.lines}
        check_headers(given, "journey request headers")
        names = {name.lower() for name in given}
        kept = [line for name, line in self.lines if name not in names]
        kept += [f"{name}: {value}\r\n".encode("latin-1") for name, value in given.items()]
        return b"".join(kept), names | {name for name, _ in self.lines}


def build(method: str, target: tuple, base: HeaderBase, headers: dict | None, json, content) -> bytes:
    """The request bytes (``target`` from ``locate``)."""
    _, _, _, host_line, raw_target = target
    block, names = base.merged(headers)
    if json is not None:
        body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        if "content-type" not in names:
            block += b"Content-Type: application/json\r\n"
    elif isinstance(content, bytes):
        body = content
    elif isinstance(content, str):
        body = content.encode()
    elif content is None:
        body = b""
    else:  # a stream or other httpx content: httpx encodes it
        return _with_httpx(method, target, base, headers, content)
    if body or method in _WITH_BODY:
        block += b"Content-Length: %d\r\n" % len(body)
    if "host" in names:  # the caller's own Host header
        host_line = b""
    return b"%s %s HTTP/1.1\r\n%s%s\r\n%s" % (method.encode("ascii"), raw_target, host_line, block, body)


def _with_httpx(method: str, target: tuple, base: HeaderBase, headers: dict | None, content) -> bytes:
    scheme, host, port, _, raw_target = target
    url = httpx.URL(scheme=scheme, host=host, port=port, raw_path=raw_target)
    given = {name.lower() for name in headers or {}}
    merged = {**{k: v for k, v in base.headers.items() if k.lower() not in given}, **(headers or {})}
    check_headers(merged, "journey request headers")
    return serialise(httpx.Request(method, url, headers=octets(merged), content=content))
