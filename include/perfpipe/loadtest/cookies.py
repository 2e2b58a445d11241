"""One virtual user's cookies: RFC 6265 matching (domain, path, expiry, Secure) by the standard
library's ``http.cookiejar``, behind the two calls the connection makes.

A request gets a Cookie line only when the jar holds a cookie (``has_any``), so a VU of a service
that sets none sends its pre-built bytes untouched. The line for a URL (without its query) is kept
until the jar changes or its first cookie expires: ``http.cookiejar`` takes ~0.1 ms to build one.
"""

from __future__ import annotations

import http.cookiejar
import time
import urllib.request

MAX_CACHED_LINES = 256  # templated paths (/orders/123) would otherwise grow the cache without bound


class _SetCookies:
    """What ``CookieJar.extract_cookies`` reads of a response: its Set-Cookie values."""

    __slots__ = ("values",)

    def __init__(self, values: list[bytes]) -> None:
        self.values = values

    def info(self) -> _SetCookies:
        return self

    def get_all(self, name: str, default=None):
        if name.lower() != "set-cookie":
            return default
        return [value.decode("latin-1") for value in self.values]


class CookieJar:
    __slots__ = ("_jar", "has_any", "_lines", "_first_expiry")

    def __init__(self) -> None:
        self._jar = http.cookiejar.CookieJar()
        self.has_any = False
        self._lines: dict[str, bytes] = {}
        self._first_expiry = float("inf")

    def store(self, url: str, set_cookie_values: list[bytes]) -> None:
        """Keep what the response to ``url`` set (Set-Cookie header values as received)."""
        self._jar.extract_cookies(_SetCookies(set_cookie_values), urllib.request.Request(url))
        self._changed()

    def header_line(self, url: str) -> bytes:
        """``Cookie: ...\\r\\n`` for a request to ``url``, or ``b""`` when no cookie applies."""
        if time.time() >= self._first_expiry:
            self._jar.clear_expired_cookies()
            self._changed()
        key = url.partition("?")[0]
        line = self._lines.get(key)
        if line is None:
            request = urllib.request.Request(key)
            self._jar.add_cookie_header(request)
            value = request.get_header("Cookie")
            line = b"Cookie: " + value.encode("latin-1") + b"\r\n" if value else b""
            if len(self._lines) >= MAX_CACHED_LINES:
                self._lines.clear()
            self._lines[key] = line
        return line

    def _changed(self) -> None:
        self._lines.clear()
        self.has_any = len(self._jar) > 0
        self._first_expiry = min((c.expires for c in self._jar if c.expires is not None), default=float("inf"))

    def names(self) -> list[str]:
        return sorted(cookie.name for cookie in self._jar)
