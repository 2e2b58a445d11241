"""The one check of request header names and values (scenario files, credentials, Python journeys)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from include.perfpipe.errors import ConfigError

USER_AGENT = "perfpipe-loadtest"
DEFAULT_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP field name (RFC 9110 token)
_BAD_VALUE = re.compile(r"[\r\n\x00]")  # request splitting


def check_headers(headers: Mapping, where: str = "") -> Mapping:
    """``headers`` unchanged, or ConfigError naming the header (never echoing its value) when a name is
    not an RFC 9110 token, or a value is not a one-line string (CR, LF or NUL) of Latin-1 characters:
    RFC 9110 field values are octets, US-ASCII and obs-text (ISO-8859-1), one octet a character."""
    prefix = f"{where}: " if where else ""
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ConfigError(f"{prefix}header name {name!r} is not a valid HTTP token")
        if not isinstance(value, str) or _BAD_VALUE.search(value):
            raise ConfigError(f"{prefix}header {name!r} must be a one-line string (value not shown)")
        if not value.isascii():
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                raise ConfigError(
                    f"{prefix}header {name!r} has characters outside Latin-1, which an HTTP field value "
                    "cannot carry (RFC 9110; value not shown)"
                ) from None
    return headers


def octets(headers: Mapping[str, str]) -> dict[str, bytes]:
    """Checked header values as the octets sent (Latin-1; httpx would encode a ``str`` as ASCII only)."""
    return {name: value.encode("latin-1") for name, value in headers.items()}
