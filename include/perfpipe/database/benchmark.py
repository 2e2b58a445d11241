"""pgbench-like query-latency benchmark recording into the shared MetricsRecorder (class ``db``).

N connections (psycopg 3 async, one event loop) each run the configured queries back to back (closed
model), or paced to a total ``rate`` with latency measured from the intended start (coordinated
omission corrected). The result is shaped like the load engine's ``LoadResult.to_dict()`` plus
``connections`` and ``connection_cap``, so validation treats both alike.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import psycopg
from psycopg import AsyncConnection

from include.perfpipe.errors import ConfigError

from ..loadtest.health import generator_health
from ..metrics import MetricsRecorder, new_histogram
from .connection import APPLICATION_NAME, connect
from .statements import read_snapshot

log = logging.getLogger(__name__)

KLASS = "db"
CONNECTION_MARGIN = 10
CONNECT_CONCURRENCY = 10
LAG_SAMPLE_S = 0.05
TOP_STATEMENTS = 5
# monitoring and driver chatter (our own inspection included) is not the application's workload
_CATALOG_WORDS = re.compile(r"\b(pg_\w+|information_schema|version\s*\(\)|current_setting)", re.I)
_WRITE_WORDS = re.compile(
    r"\b(insert|update|delete|merge|into|for\s+(update|share|no\s+key|key)|nextval|setval|"
    r"pg_sleep|pg_terminate_backend|pg_cancel_backend|lo_\w+|dblink\w*|copy)\b",
    re.I,
)


def query_label(statement: str) -> str:
    """A short label: the statement's verb and first table, e.g. ``select_accounts``."""
    verb = (statement.split() or ["query"])[0].lower()
    table = re.search(r'\bfrom\s+(?:"?\w+"?\.)?"?(\w+)', statement, re.I)
    return f"{verb}_{table.group(1).lower()}" if table else verb


def normalise_queries(queries: list) -> list[dict]:
    """``[{name, sql, weight}]`` from SQL strings or dicts; labels made unique; bad entries raise ValueError."""
    if not isinstance(queries, list) or not queries:
        raise ConfigError(f"queries: expected a list of at least one query, got {queries!r}")
    out, names = [], set()
    for i, q in enumerate(queries):
        q = {"sql": q} if isinstance(q, str) else dict(q) if isinstance(q, dict) else None
        if q is None or not isinstance(q.get("sql"), str) or not q["sql"].strip():
            raise ConfigError(f"queries[{i}]: expected SQL text or {{name, sql, weight}}, got {queries[i]!r}")
        weight = q.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            raise ConfigError(f"queries[{i}].weight: must be a number > 0, got {weight!r}")
        base = str(q.get("name") or query_label(q["sql"]))
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.add(name)
        out.append({"name": name, "sql": q["sql"].strip().rstrip(";"), "weight": weight})
    return out


def load_queries(path: str | Path) -> list[dict]:
    """The ``queries`` list of a YAML file (see include/config/db_queries.yaml), normalised; errors name the file."""
    import yaml

    try:
        document = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the benchmark queries: {exc}") from exc
    if not isinstance(document, dict) or "queries" not in document:
        raise ConfigError(f"{path}: expected a mapping with a `queries` list, got {type(document).__name__}")
    try:
        return normalise_queries(document["queries"])
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def top_read_only_statements(conn: psycopg.Connection, top: int = TOP_STATEMENTS) -> list[dict]:
    """The most-called parameter-free read-only SELECTs of pg_stat_statements, as benchmark queries."""
    snap = read_snapshot(conn)
    if not snap["available"]:
        raise ConfigError(f"queries: none given, and pg_stat_statements cannot supply them ({snap['reason']})")
    picked = [
        r
        for r in sorted(snap["rows"], key=lambda r: r["calls"], reverse=True)
        if re.match(r"\s*(select|with)\b", r["query"], re.I)
        and not re.search(r"\$\d", r["query"])
        and not _WRITE_WORDS.search(r["query"])
        and not _CATALOG_WORDS.search(r["query"])
        and len(r["query"]) < 2000
    ][:top]
    if not picked:
        raise ConfigError("queries: none given, and pg_stat_statements holds no parameter-free read-only SELECT")
    return normalise_queries([{"sql": r["query"]} for r in picked])


def connection_cap(conn: psycopg.Connection, requested: int, margin: int = CONNECTION_MARGIN) -> dict:
    """How many connections the benchmark may open without starving other clients, and why."""
    row = conn.execute(
        """SELECT current_setting('max_connections')::int AS max_connections,
                  current_setting('superuser_reserved_connections')::int AS superuser_reserved,
                  coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,
                  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int - 1 AS in_use"""
    ).fetchone()
    cap = row["max_connections"] - row["superuser_reserved"] - row["reserved"] - row["in_use"] - margin
    used = max(min(requested, cap), 0)
    note = (
        f"cap = max_connections {row['max_connections']} - superuser_reserved {row['superuser_reserved']}"
        f" - reserved {row['reserved']} - in use by others {row['in_use']} - margin {margin} = {cap}"
    )
    if used < requested:
        note = f"capped from {requested} to {used} connections: {note}"
    return {
        **row,
        "margin": margin,
        "cap": cap,
        "requested": requested,
        "used": used,
        "capped": used < requested,
        "note": note,
    }


async def _open(dsn: str, n: int, read_only: bool, statement_timeout_s: float) -> tuple[list, list[str]]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    errors: list[str] = []

    async def one():
        async with gate:
            conn = None
            try:
                conn = await AsyncConnection.connect(
                    dsn, autocommit=True, application_name=f"{APPLICATION_NAME}-bench", connect_timeout=10
                )
                await conn.execute(
                    "SELECT set_config('statement_timeout', %s, false),"
                    " set_config('default_transaction_read_only', %s, false)",
                    [f"{int(statement_timeout_s * 1000)}ms", "on" if read_only else "off"],
                )
                return conn
            except psycopg.Error as exc:
                errors.append(str(exc).strip())
                if conn is not None:
                    await conn.close()
                return None

    conns = await asyncio.gather(*(one() for _ in range(n)))
    return [c for c in conns if c is not None], errors


async def _run(
    queries: list[dict], conns: list, duration_s: float, rate: float | None, progress: Callable[[dict], None] | None
):
    """Run the workers and the health monitor; (recorder, loop-lag histogram, elapsed s, CPU %)."""
    recorder = MetricsRecorder()
    lag = new_histogram()
    names = [q["name"] for q in queries]
    weights = [q["weight"] for q in queries]
    by_name = {q["name"]: q["sql"] for q in queries}
    interval = len(conns) / rate if rate else 0.0
    active = len(conns)
    start = time.perf_counter()
    deadline = start + duration_s

    async def worker(i: int, conn: AsyncConnection) -> None:
        nonlocal active
        rng = random.Random(i)
        intended = start + (interval * i / len(conns))
        try:
            while True:
                if interval:
                    intended += interval
                    if intended >= deadline:
                        return
                    await asyncio.sleep(max(intended - time.perf_counter(), 0))
                elif time.perf_counter() >= deadline:
                    return
                name = rng.choices(names, weights)[0]
                began = intended if interval else time.perf_counter()
                try:
                    cur = await conn.execute(by_name[name])
                    if cur.description is not None:
                        await cur.fetchall()
                    ok, status = True, "OK"
                except psycopg.Error as exc:
                    ok, status = False, exc.sqlstate or type(exc).__name__
                ended = time.perf_counter()
                recorder.record(name, KLASS, ended - began, ok, status, ended - start)
                if conn.broken:
                    return
        finally:
            active -= 1

    async def monitor() -> None:
        second = 0
        expected = time.perf_counter() + LAG_SAMPLE_S
        while active > 0:
            await asyncio.sleep(LAG_SAMPLE_S)
            now = time.perf_counter()
            lag.record_value(max(int((now - expected) * 1_000_000), 1))
            expected = now + LAG_SAMPLE_S
            elapsed = now - start
            recorder.set_active_vus(elapsed, active)
            if int(elapsed) > second:
                second = int(elapsed)
                recorder.seal_before(second - 1)
                if progress:
                    progress({"elapsed_s": second, "active": active})

    process = psutil.Process()
    process.cpu_percent(None)
    await asyncio.gather(monitor(), *(worker(i, c) for i, c in enumerate(conns)))
    elapsed = time.perf_counter() - start
    return recorder, lag, elapsed, process.cpu_percent(None)


def _health(lag, cpu_percent: float, lost: int, paced: bool) -> dict:
    """The load engine's health rules (``loadtest.health``), with lost connections as this client's own reason.

    Back to back (closed model), a client at full CPU is the expected state whenever the database answers
    faster than Python can ask; the loop lag, not the CPU, says whether that delayed the queries measured.
    """
    own = [f"{lost} connection(s) lost during the run"] if lost else []
    return {**generator_health(lag, cpu_percent, paced=paced, unit="q/s", reasons=own), "dropped": 0}


def run_query_benchmark(
    dsn: str,
    queries: list | None = None,
    connections: int = 100,
    duration_s: float = 30,
    *,
    rate: float | None = None,
    read_only: bool = True,
    statement_timeout_s: float = 30,
    connection_margin: int = CONNECTION_MARGIN,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Run ``queries`` (SQL strings or ``{name, sql, weight}``; default: top read-only pg_stat_statements
    SELECTs) on ``connections`` concurrent connections for ``duration_s`` seconds.

    The connection count is capped at max_connections - reserved - in use - ``connection_margin``
    (``connection_cap`` in the result says so). ``rate`` paces the total queries/s. ``read_only`` runs every
    session with default_transaction_read_only so a benchmark can never write.
    Returns a LoadResult-shaped dict (spec, started_at, ended_at, duration_s, metrics, stages, health,
    aborted, abort_reason) plus ``connections`` (used) and ``connection_cap``.
    """
    if isinstance(connections, bool) or not isinstance(connections, int) or connections < 1:
        raise ConfigError(f"connections: must be an integer >= 1, got {connections!r}")
    if not isinstance(duration_s, (int, float)) or duration_s <= 0:
        raise ConfigError(f"duration_s: must be a number > 0, got {duration_s!r}")
    if rate is not None and (not isinstance(rate, (int, float)) or rate <= 0):
        raise ConfigError(f"rate: must be a number > 0 or None, got {rate!r}")
    with connect(dsn) as conn:
        spec_queries = normalise_queries(queries) if queries is not None else top_read_only_statements(conn)
        cap = connection_cap(conn, connections, connection_margin)
        database, server_version = conn.info.dbname, conn.info.server_version
    if cap["used"] < 1:
        raise ConfigError(f"connections: no connection slot left for the benchmark ({cap['note']})")
    log.info(
        "db benchmark: %d connections (%s), %ss, queries %s",
        cap["used"],
        cap["note"],
        duration_s,
        [q["name"] for q in spec_queries],
    )

    async def main():
        conns, open_errors = await _open(dsn, cap["used"], read_only, statement_timeout_s)
        if not conns:
            raise psycopg.OperationalError(f"could not open any benchmark connection: {open_errors[:1]}")
        if open_errors:
            cap["note"] += f"; {len(open_errors)} connection(s) failed to open: {open_errors[0]}"
        started = dt.datetime.now(dt.UTC)
        try:
            recorder, lag, elapsed, cpu = await _run(spec_queries, conns, duration_s, rate, progress)
        finally:
            lost = sum(1 for c in conns if c.broken)
            await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        return conns, started, recorder, lag, elapsed, cpu, lost

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        conns, started, recorder, lag, elapsed, cpu, lost = runner.run(main())
    aborted = lost == len(conns)
    return {
        "spec": {
            "kind": "db",
            "database": database,
            "server_version": server_version,
            "queries": spec_queries,
            "connections": connections,
            "duration_s": duration_s,
            "rate": rate,
            "read_only": read_only,
            "statement_timeout_s": statement_timeout_s,
        },
        "started_at": started.isoformat(),
        "ended_at": (started + dt.timedelta(seconds=elapsed)).isoformat(),
        "duration_s": round(elapsed, 3),
        "metrics": recorder.to_dict(),
        "stages": [{"start_s": 0.0, "end_s": float(duration_s), "kind": "hold"}],
        "health": _health(lag, cpu, lost, paced=rate is not None),
        "aborted": aborted,
        "abort_reason": "every benchmark connection was lost" if aborted else None,
        "connections": len(conns),
        "connection_cap": cap,
    }


def _loop_factory():
    """uvloop when installed (it is a runtime requirement of the load engine), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
