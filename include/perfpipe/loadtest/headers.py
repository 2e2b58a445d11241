"""The one check of request header names and values (scenario files, credentials, Python journeys)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from include.perfpipe.errors import ConfigError

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP field name (RFC 9110 token)
_BAD_VALUE = re.compile(r"[\r\n\x00]")  # request splitting


def check_headers(headers: Mapping, where: str = "") -> Mapping:
    """``headers`` unchanged, or ConfigError naming the header (never echoing its value) when a name is
    not an RFC 9110 token or a value is not a one-line string (CR, LF or NUL)."""
    prefix = f"{where}: " if where else ""
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ConfigError(f"{prefix}header name {name!r} is not a valid HTTP token")
        if not isinstance(value, str) or _BAD_VALUE.search(value):
            raise ConfigError(f"{prefix}header {name!r} must be a one-line string (value not shown)")
    return headers
