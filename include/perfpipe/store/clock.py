"""How far this machine's clock is from the database's: shards on separate hosts start together at an
epoch time, so each shard's clock must agree with the others (NTP or chrony on every load worker).

``clock_offset`` compares ``clock_timestamp()`` on the server with the midpoint of the round trip, NTP
style, keeping the sample with the shortest round trip; its error is at most half that round trip.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from include.perfpipe.vocabulary import libpq_dsn

CLOCK_SKEW_WARN_MS = 100.0
SAMPLES = 5


@dataclass(frozen=True)
class ClockOffset:
    offset_ms: float  # the database's clock minus this machine's: positive when this one is behind
    rtt_ms: float  # round trip of the kept sample; the offset is within +- rtt_ms / 2

    def warning(self, limit_ms: float = CLOCK_SKEW_WARN_MS) -> str | None:
        """A message when the clocks differ by more than ``limit_ms``, else None."""
        if abs(self.offset_ms) <= limit_ms:
            return None
        return (
            f"clock {self.offset_ms:+.0f} ms from the database's (limit {limit_ms:.0f} ms, round trip "
            f"{self.rtt_ms:.1f} ms): shards do not start together; sync this host's clock (NTP, chrony)"
        )

    def to_dict(self) -> dict:
        return {"offset_ms": round(self.offset_ms, 3), "rtt_ms": round(self.rtt_ms, 3)}


def best_sample(samples: list[tuple[float, float, float]]) -> ClockOffset:
    """From (sent, server, received) epoch-second triples, the offset of the shortest round trip."""
    if not samples:
        raise ValueError("clock samples: none taken")
    sent, server, received = min(samples, key=lambda s: s[2] - s[0])
    return ClockOffset(offset_ms=(server - (sent + received) / 2) * 1000, rtt_ms=(received - sent) * 1000)


def clock_offset(dsn: str, samples: int = SAMPLES, connect_timeout: int = 5) -> ClockOffset:
    """This machine's clock against the database server's ``clock_timestamp()``."""
    taken = []
    with psycopg.connect(libpq_dsn(dsn), connect_timeout=connect_timeout, autocommit=True) as conn:
        conn.execute("SELECT 1")  # the first query pays for the session's start-up
        for _ in range(samples):
            sent = time.time()
            server = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0]
            taken.append((sent, float(server), time.time()))
    return best_sample(taken)
