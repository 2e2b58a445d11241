"""The DB benchmark's run, in the same three steps as a load test's: ``plan_benchmark`` (queries and
duration checked before anything connects), ``run_benchmark`` (the DB query client on the load engine) and
``judge_run`` (its ``LoadResult``, as a load test's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BenchmarkPlan:
    """What the benchmark runs: ``queries`` (None: the top read-only pg_stat_statements SELECTs, chosen when
    it connects) on ``connections`` connections for ``duration_s``, at a total ``rate`` or back to back."""

    queries: list | None
    connections: int
    duration_s: float
    rate: float | None = None
    read_only: bool = True


def plan_benchmark(
    *,
    duration: str | float,
    connections: int,
    queries_file: str | Path | None = None,
    queries: Sequence[str] = (),
    rate: float | None = None,
    read_only: bool = True,
    duration_field: str = "duration",
) -> BenchmarkPlan:
    """Check the benchmark's input: a bad ``queries_file`` or ``duration`` raises a ``ConfigError`` naming the
    file or ``duration_field``."""
    from include.perfpipe.database.benchmark import load_queries
    from include.perfpipe.durations import parse_duration

    duration_s = parse_duration(duration, duration_field, positive=True)
    chosen = (load_queries(queries_file) if queries_file else []) + list(queries)
    return BenchmarkPlan(chosen or None, connections, duration_s, rate, read_only)


def run_benchmark(plan: BenchmarkPlan, dsn: str, *, progress: Callable[[dict], None] | None = None) -> dict:
    """Run ``plan`` against the database at ``dsn``: ``LoadResult.to_dict()`` plus ``connections`` and
    ``connection_cap`` (``database.benchmark.run_query_benchmark``)."""
    from include.perfpipe.database.benchmark import run_query_benchmark

    return run_query_benchmark(
        dsn,
        plan.queries,
        plan.connections,
        plan.duration_s,
        rate=plan.rate,
        read_only=plan.read_only,
        progress=progress,
    )
