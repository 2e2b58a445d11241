"""Which recorded requests become steps: the target's, without its static assets, CORS preflights or
other hosts' requests, with each redirect chain (one entry a hop) folded into one call."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from include.perfpipe.errors import ConfigError
from include.perfpipe.recording.har import Exchange

STATIC_SUFFIXES = (
    ".js", ".mjs", ".css", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".avif", ".bmp",
    ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".wav",
)  # fmt: skip
STATIC_TYPES = ("text/css", "application/javascript", "text/javascript", "application/x-javascript")
STATIC_FAMILIES = ("image/", "font/", "audio/", "video/", "application/font")


@dataclass(frozen=True)
class Call:
    """One step: a request and the answer it finally got (``final`` is ``first`` unless redirected)."""

    first: Exchange
    final: Exchange
    hops: int = 0  # redirects followed

    @property
    def entries(self) -> str:
        return str(self.first.entry) if not self.hops else f"{self.first.entry}-{self.final.entry}"


@dataclass
class Selection:
    target: str  # scheme://host:port
    calls: list[Call]
    other_hosts: Counter = field(default_factory=Counter)  # host -> requests left out
    static: list[str] = field(default_factory=list)  # the target's static paths left out
    preflights: int = 0
    unanswered: int = 0  # no answer recorded (status 0: blocked, failed) or a protocol switch (101)


def select(exchanges: list[Exchange], host: str | None = None, keep_static: bool = False) -> Selection:
    """The target (``host``, else the origin with the most requests) and its calls."""
    if not exchanges:
        raise ConfigError("the recording holds no http(s) request")
    counts = Counter(e.origin for e in exchanges)
    if host is None:
        target = max(counts, key=lambda origin: (counts[origin], -_first_seen(exchanges, origin)))
    else:
        wanted = host.lower().rstrip("/")
        matching = [o for o in counts if wanted in (o, urlsplit(o).netloc, urlsplit(o).hostname)]
        if not matching:
            raise ConfigError(f"no recorded request went to it; hosts: {sorted(counts)}", field="--host", value=host)
        target = max(matching, key=lambda origin: counts[origin])
    selection = Selection(target=target, calls=[])
    followed: set[int] = set()
    for i, exchange in enumerate(exchanges):
        if i in followed:
            continue
        if exchange.origin != target:
            selection.other_hosts[urlsplit(exchange.origin).netloc] += 1
        elif exchange.status < 200 and not 300 <= exchange.status < 400:
            selection.unanswered += 1
        elif _is_preflight(exchange):
            selection.preflights += 1
        elif not keep_static and _is_static(exchange):
            selection.static.append(exchange.raw_path)
        else:
            final, hops, at = exchange, 0, i
            while (at := _redirected_to(final, exchanges, at, followed)) is not None:
                followed.add(at)
                final, hops = exchanges[at], hops + 1
            selection.calls.append(Call(exchange, final, hops))
    if not selection.calls:
        raise ConfigError(f"no request of the target {target} is left to replay (all static or preflights)")
    return selection


def _first_seen(exchanges: list[Exchange], origin: str) -> int:
    return next(i for i, e in enumerate(exchanges) if e.origin == origin)


def _is_preflight(exchange: Exchange) -> bool:
    return exchange.method == "OPTIONS" and exchange.header("Access-Control-Request-Method") is not None


def _is_static(exchange: Exchange) -> bool:
    kind = exchange.response_type
    return (
        exchange.raw_path.lower().endswith(STATIC_SUFFIXES) or kind in STATIC_TYPES or kind.startswith(STATIC_FAMILIES)
    )


def _redirected_to(exchange: Exchange, exchanges: list[Exchange], at: int, taken: set[int]) -> int | None:
    """The index of the later entry of the same origin that followed this 3xx's Location, if any."""
    location = exchange.response_header("Location")
    if not 300 <= exchange.status < 400 or not location:
        return None
    url = urljoin(exchange.url, location)
    return next(
        (
            j
            for j in range(at + 1, len(exchanges))
            if j not in taken and exchanges[j].url == url and exchanges[j].origin == exchange.origin
        ),
        None,
    )
