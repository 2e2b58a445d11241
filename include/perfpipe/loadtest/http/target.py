"""Which hosts a load test may hit, checked before a single request is sent."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import httpx

from include.perfpipe.errors import ConfigError, TargetError
from include.perfpipe.vocabulary import ALLOWLIST_ENV, ALLOWLIST_VARIABLE

DEFAULT_ALLOWLIST = "127.0.0.1,localhost"


class TargetNotAllowed(TargetError, ValueError):
    """The target's host is not in the allowlist."""


class TargetUnreachable(TargetError, ConnectionError):
    """Nothing accepts TCP connections at the target."""


def resolve_allowlist(variable: str | list[str] | None = None, profiles: str | list[str] | None = None) -> list[str]:
    """Hosts a load test may hit, from the first source that names any: the DAG's Airflow Variable
    (``variable``), ``$PERFPIPE_TARGET_ALLOWLIST``, the profiles file's ``target_allowlist``, loopback."""
    return parse_allowlist(variable or os.environ.get(ALLOWLIST_ENV) or profiles or DEFAULT_ALLOWLIST)


def parse_allowlist(allowlist: str | list[str] | None = None) -> list[str]:
    """Hosts from a list, a comma-separated string, or (when None) ``resolve_allowlist()``."""
    if allowlist is None:
        return resolve_allowlist()
    if isinstance(allowlist, str):
        allowlist = allowlist.split(",")
    return [host.strip().lower() for host in allowlist if host and host.strip()]


def split_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an http(s) URL; ConfigError naming the URL otherwise."""
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigError(f"target: invalid URL {url!r}: {exc}") from None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"target: expected an http:// or https:// URL with a host, got {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"target: invalid port in {url!r}") from None
    return parts.scheme, parts.hostname.lower(), port


def check_target(url: str, allowlist: str | list[str] | None = None) -> str:
    """Return the URL's host if the allowlist has it (as ``host`` or ``host:port``); else TargetNotAllowed."""
    _, host, port = split_url(url)
    allowed = parse_allowlist(allowlist)
    if host not in allowed and f"{host}:{port}" not in allowed:
        raise TargetNotAllowed(
            f"target: host {host!r} of {url!r} is not in the allowlist {allowed}; "
            f"add it to ${ALLOWLIST_ENV} (comma-separated) or the Airflow Variable {ALLOWLIST_VARIABLE}"
        )
    return host


def probe_target(url: str, timeout_s: float = 3.0) -> None:
    """Open (and close) one TCP connection to the target; TargetUnreachable if that fails."""
    _, host, port = split_url(url)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise TargetUnreachable(f"target: cannot connect to {host}:{port} ({url}): {exc}") from None
