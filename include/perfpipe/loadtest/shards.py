"""Per-shard facts for the report: where each shard ran, what it sent, and how healthy its generator was.

A shard's ``LoadResult`` carries ``extra["shard"]`` = ``{"index", "host", "queue", "clock": {"offset_ms",
"rtt_ms"} | None, "clock_warning": str | None}``; ``shard_rows`` turns the shards into the report's rows.
"""

from __future__ import annotations

from include.perfpipe.loadtest.result import LoadResult


def shard_rows(results: list[LoadResult]) -> list[dict]:
    """One row per shard, in shard order: host, requests, errors, req/s and generator health."""
    rows = []
    for position, result in enumerate(results):
        placed = result.extra.get("shard") or {}
        count = sum(t.count for t in result.metrics.endpoints.values())
        errors = sum(t.errors for t in result.metrics.endpoints.values())
        health = result.health
        rows.append(
            {
                "index": placed.get("index", position),
                "host": placed.get("host"),
                "queue": placed.get("queue"),
                "requests": count,
                "errors": errors,
                "rps": round(count / result.duration_s, 3) if result.duration_s > 0 else None,
                "loop_lag_p99_ms": health.get("loop_lag_p99_ms"),
                "cpu_percent": health.get("cpu_percent"),
                "start_delay_s": health.get("start_delay_s"),
                "saturated": bool(health.get("saturated")),
                "clock": placed.get("clock"),
                "clock_warning": placed.get("clock_warning"),
            }
        )
    return sorted(rows, key=lambda r: r["index"])
