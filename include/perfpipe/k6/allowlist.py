"""The target allowlist for k6: every address outside the allowlisted hosts' own, as k6's ``blacklistIPs``.

k6 has no allowlist, only blocklists: ``blacklistIPs`` (CIDR ranges every connection, redirects included,
is refused) and ``blockHostnames`` (name patterns). Patterns cannot say "every name but these", so the
address list does the work: the complement, over IPv4 and IPv6, of the addresses the allowlisted hosts
resolve to (one address leaves 32 IPv4 or 128 IPv6 ranges), resolved at preflight: a DNS answer
that changes during the run cannot lead elsewhere. It is given as ``--blacklist-ip``, which outranks
anything a script's ``options`` say. k6 blocks by address, not port: an allowlist entry ``host:port``
opens every port of ``host`` to a k6 script.
"""

from __future__ import annotations

import ipaddress
import socket

from include.perfpipe.errors import TargetError
from include.perfpipe.loadtest.http.target import parse_allowlist

_UNIVERSES = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def host_of(entry: str) -> str:
    """The host of an allowlist entry (``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address)."""
    if entry.startswith("["):
        return entry[1 : entry.index("]")]
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry


def allowed_addresses(allowlist: str | list[str] | None) -> dict[str, list[str]]:
    """``{host: [its addresses]}`` of every allowlisted host (an IP stands for itself)."""
    found: dict[str, list[str]] = {}
    for host in dict.fromkeys(host_of(entry) for entry in parse_allowlist(allowlist)):
        try:
            found[host] = [str(ipaddress.ip_address(host))]
            continue
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TargetError(f"allowlist: host {host!r} does not resolve ({exc})", field="allowlist") from None
        found[host] = list(dict.fromkeys(info[4][0].split("%")[0] for info in infos))
    return found


def blocked_ranges(addresses: list[str]) -> list[str]:
    """Every CIDR range of IPv4 and IPv6 except ``addresses``, as few ranges as cover it."""
    allowed = [ipaddress.ip_network(address) for address in addresses]
    ranges = []
    for universe in _UNIVERSES:
        remaining = [universe]
        for network in allowed:
            if network.version != universe.version:
                continue
            remaining = [
                piece
                for block in remaining
                for piece in (block.address_exclude(network) if network.subnet_of(block) else [block])
            ]
        ranges += [str(block) for block in ipaddress.collapse_addresses(remaining)]
    return ranges


def blacklist_ips(allowlist: str | list[str] | None) -> list[str]:
    """k6's ``blacklistIPs`` that leaves only the allowlisted hosts' addresses reachable."""
    return blocked_ranges([address for group in allowed_addresses(allowlist).values() for address in group])
