"""One virtual user's cookies: RFC 6265 matching (domain, path, expiry, Secure) by the standard
library's ``http.cookiejar``, behind the two calls the connection makes.

A request gets a Cookie line only when the jar holds a cookie (``has_any``), so a VU of a service
that sets none sends its pre-built bytes untouched. The line for a URL (without its query) is kept
until the jar changes or its first cookie expires: ``http.cookiejar`` takes ~0.1 ms to build one.

The jar keeps to the limits browsers use (RFC 6265 section 6.1's minimums, Chromium's values): a
cookie whose name and value exceed ``MAX_COOKIE_BYTES`` is ignored, and past ``MAX_PER_DOMAIN`` cookies
of a domain or ``MAX_COOKIES`` in all the oldest stored goes. Storing reads no more than the cookies it
stores: the order they came in is kept beside the jar, so nothing rescans it.
"""

from __future__ import annotations

import http.cookiejar
import time
import urllib.request

MAX_CACHED_LINES = 256  # templated paths (/orders/123) would otherwise grow the cache without bound
MAX_COOKIE_BYTES = 4096  # name and value
MAX_PER_DOMAIN = 50
MAX_COOKIES = 3000


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


class _BoundedJar(http.cookiejar.CookieJar):
    """``http.cookiejar.CookieJar`` within the browser limits; ``stored`` (all) and ``by_domain`` hold the
    cookies' ``(domain, path, name)`` keys oldest first (dicts keep their insertion order)."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: dict[tuple[str, str, str], None] = {}
        self.by_domain: dict[str, dict[tuple[str, str, str], None]] = {}
        self.first_expiry = float("inf")

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        if len(cookie.name) + len(cookie.value or "") > MAX_COOKIE_BYTES:
            return  # as a browser does: too large to keep
        super().set_cookie(cookie)
        key = (cookie.domain, cookie.path, cookie.name)
        domain = self.by_domain.setdefault(cookie.domain.lstrip("."), {})
        self.stored.pop(key, None)  # set again: now the newest
        domain.pop(key, None)
        self.stored[key] = domain[key] = None
        if cookie.expires is not None:
            self.first_expiry = min(self.first_expiry, cookie.expires)
        while len(domain) > MAX_PER_DOMAIN:
            self.clear(*next(iter(domain)))
        while len(self.stored) > MAX_COOKIES:
            self.clear(*next(iter(self.stored)))

    def clear(self, domain=None, path=None, name=None) -> None:
        super().clear(domain, path, name)
        if domain is None:
            self.stored.clear()
            self.by_domain.clear()
            return
        gone = [k for k in self.by_domain.get(domain.lstrip("."), ()) if k[0] == domain and _within(k, path, name)]
        for key in gone:
            del self.stored[key]
            del self.by_domain[domain.lstrip(".")][key]

    def clear_expired_cookies(self) -> None:
        super().clear_expired_cookies()
        self.first_expiry = min((c.expires for c in self if c.expires is not None), default=float("inf"))


def _within(key: tuple[str, str, str], path: str | None, name: str | None) -> bool:
    return (path is None or key[1] == path) and (name is None or key[2] == name)


class CookieJar:
    __slots__ = ("_jar", "has_any", "_lines")

    def __init__(self) -> None:
        self._jar = _BoundedJar()
        self.has_any = False  # an attribute, not a property: every send reads it
        self._lines: dict[str, bytes] = {}

    def store(self, url: str, set_cookie_values: list[bytes]) -> None:
        """Keep what the response to ``url`` set (Set-Cookie header values as received)."""
        self._jar.extract_cookies(_SetCookies(set_cookie_values), urllib.request.Request(url))
        self._changed()

    def header_line(self, url: str) -> bytes:
        """``Cookie: ...\\r\\n`` for a request to ``url``, or ``b""`` when no cookie applies."""
        if time.time() >= self._jar.first_expiry:
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
        self.has_any = bool(self._jar.stored)

    def names(self) -> list[str]:
        return sorted(cookie.name for cookie in self._jar)
