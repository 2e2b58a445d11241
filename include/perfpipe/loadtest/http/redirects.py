"""Following a redirect: the next hop's request, built from the request just sent.

Like browsers and k6 (and RFC 9110 15.4): 303, and 301/302 to a POST, become a GET without a body;
307 and 308 repeat the method and body. Every hop's host must be in the allowlist, and nothing is
sent to one that is not. Credentials (``Authorization``, ``Proxy-Authorization``, the run's secret
headers, and any secret-looking header such as a templated ``X-Api-Key``) go only to the origin they
were meant for, as httpx does; the Cookie line comes from the
VU's jar for each hop's own URL.
"""

from __future__ import annotations

import httpx

from include.perfpipe.loadtest.http.credentials import looks_secret
from include.perfpipe.loadtest.http.target import TargetNotAllowed, check_target

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_REDIRECTS = 10
MAX_REDIRECTS = 100
REDIRECT_ERRORS = {
    "TooManyRedirects": "more redirects in a row than max_redirects",
    "RedirectNotAllowed": "a redirect to a host outside the allowlist (nothing was sent there)",
    "InvalidRedirect": "a Location that is not an http(s) URL",
}
_BODY_HEADERS = frozenset({b"content-type", b"content-length", b"transfer-encoding", b"content-encoding"})
_ALWAYS_DROPPED = frozenset({b"host", b"content-length", b"cookie"})
_CREDENTIALS = frozenset({b"authorization", b"proxy-authorization"})


class RedirectRefused(Exception):
    """The redirect is not followed; ``args[0]`` is the error recorded (``REDIRECT_ERRORS``)."""


def next_request(
    raw: bytes, url: str, status: int, location: bytes, allowlist: list[str], secret_headers=()
) -> httpx.Request:
    """The request that follows ``status`` with ``location`` to the request ``raw`` sent to ``url``."""
    try:
        current = httpx.URL(url)
        target = current.join(location.decode("latin-1").strip())
    except (httpx.InvalidURL, UnicodeDecodeError):
        raise RedirectRefused("InvalidRedirect") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise RedirectRefused("InvalidRedirect")
    try:
        check_target(str(target), allowlist)
    except (TargetNotAllowed, ValueError):
        raise RedirectRefused("RedirectNotAllowed") from None
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *lines = head.split(b"\r\n")
    method = request_line.split(b" ", 1)[0].decode("ascii")
    dropped = set(_ALWAYS_DROPPED)
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", b""
        dropped |= _BODY_HEADERS
    leaving = (target.scheme, target.host, target.port) != (current.scheme, current.host, current.port)
    if leaving:
        dropped |= _CREDENTIALS | {name.lower().encode("latin-1") for name in secret_headers}
    headers = []
    for line in lines:
        name, _, value = line.partition(b":")
        if name.lower() not in dropped and not (leaving and looks_secret(name.decode("latin-1"))):
            headers.append((name, value.strip()))
    return httpx.Request(method, target, headers=headers, content=body or None)
