"""Reference Python clients for the benchmark, closed loop like our engine's VUs, printing one JSON line.

``python -m benchmarks.peers aiohttp|httpx|engine URL USERS SECONDS``: ``USERS`` concurrent loops of GET
for ``SECONDS``; prints ``{"rps", "p50_ms", "p99_ms", "count", "errors", ...}``. ``engine`` runs ours.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from hdrh.histogram import HdrHistogram


async def _closed_loop(get, users: int, seconds: float) -> dict:
    hist, errors = HdrHistogram(1, 60_000_000, 3), [0]
    end = time.perf_counter() + seconds

    async def user() -> None:
        while time.perf_counter() < end:
            start = time.perf_counter()
            try:
                if await get() != 200:
                    errors[0] += 1
            except Exception:
                errors[0] += 1
            hist.record_value(max(1, int((time.perf_counter() - start) * 1e6)))

    began = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(users)))
    elapsed = time.perf_counter() - began
    return {
        "count": hist.get_total_count(),
        "errors": errors[0],
        "rps": hist.get_total_count() / elapsed,
        **{f"p{p}_ms": hist.get_value_at_percentile(p) / 1000 for p in (50, 95, 99)},
    }


async def run_aiohttp(url: str, users: int, seconds: float) -> dict:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=users)) as session:

        async def get() -> int:
            async with session.get(url) as response:
                await response.read()
                return response.status

        return await _closed_loop(get, users, seconds)


async def run_httpx(url: str, users: int, seconds: float) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(limits=limits) as client:

        async def get() -> int:
            return (await client.get(url)).status_code

        return await _closed_loop(get, users, seconds)


def run_engine(url: str, users: int, seconds: float, rate: float | None = None) -> dict:
    from include.perfpipe.loadtest import load_spec, run_load_test

    overrides = {"duration": seconds, "progress_interval": 3600}
    overrides.update({"rate": rate, "max_vus": users} if rate else {"vus": users})
    result = run_load_test(load_spec("smoke", url, overrides=overrides))
    total = result.stats_frame().set_index("name").loc["all"]
    return {
        "count": int(total["count"]),
        "errors": int(total["errors"]),
        "rps": float(total["rps"]),
        "p50_ms": float(total["p50_ms"]),
        "p95_ms": float(total["p95_ms"]),
        "p99_ms": float(total["p99_ms"]),
        "cpu_percent": result.health["cpu_percent"],
        "loop_lag_p99_ms": result.health["loop_lag_p99_ms"],
        "dropped": result.health["dropped"],
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str]) -> None:
    import uvloop

    kind, url, users, seconds = argv[0], argv[1], int(argv[2]), float(argv[3])
    if kind == "engine":
        figures = run_engine(url, users, seconds, float(argv[4]) if len(argv) > 4 else None)
    else:
        figures = uvloop.run({"aiohttp": run_aiohttp, "httpx": run_httpx}[kind](url, users, seconds))
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
