"""pgbench-like query-latency benchmark: the DB query client (``query_client``) on the load engine.

N connections (psycopg 3 async, one event loop) each run the configured queries back to back (closed
model, the ``constant_vus`` executor), or at a total ``rate`` (open model, ``constant_arrival_rate``)
with latency measured from each query's intended start (coordinated omission corrected) and queries
finding every connection busy dropped and counted. The load engine's load generator runs it, so its
pacing, loop-lag probe, abort rules and health rules are the HTTP load test's; the result is the
engine's ``LoadResult.to_dict()`` plus ``connections`` and ``connection_cap``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from include.perfpipe.config_files import Document, read_yaml
from include.perfpipe.errors import ConfigError, kind

from ..loadtest.result import LoadResult
from .connection import connect, redact
from .query_client import QuerySpec, query_executor, query_generator, with_connections
from .statements import read_snapshot

log = logging.getLogger(__name__)

CONNECTION_MARGIN = 10
QUERY_TIMEOUT_S = 30  # each query; the run ends by its duration plus this drain
START_DELAY_S = 0.05  # from the connections being open to the run's start
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


def normalise_queries(queries: list, document: Document | None = None) -> list[dict]:
    """``[{name, sql, weight}]`` from SQL strings or dicts; labels made unique; bad entries raise ConfigError
    naming the field and the kind of value (the line and column when ``document``, the queries file, is given)."""

    def refuse(field: str, message: str, value) -> ConfigError:
        if document is not None:
            return document.error(field, message, value)
        return ConfigError(f"{field}: {message} (got {kind(value)})")

    if not isinstance(queries, list) or not queries:
        raise refuse("queries", "expected a list of at least one query", queries)
    out, names = [], set()
    for i, q in enumerate(queries):
        q = {"sql": q} if isinstance(q, str) else dict(q) if isinstance(q, dict) else None
        if q is None or not isinstance(q.get("sql"), str) or not q["sql"].strip():
            raise refuse(f"queries[{i}]", "expected SQL text or {name, sql, weight}", queries[i])
        weight = q.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < math.inf:
            raise refuse(f"queries[{i}].weight", "must be a number > 0", weight)
        base = str(q.get("name") or query_label(q["sql"]))
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.add(name)
        out.append({"name": name, "sql": q["sql"].strip().rstrip(";"), "weight": weight})
    return out


def load_queries(path: str | Path) -> list[dict]:
    """The ``queries`` list of a YAML file (see include/config/db_queries.yaml), normalised; errors name the file,
    the field and the line, never the file's text."""
    document = read_yaml(path)
    if not isinstance(document.data, dict) or "queries" not in document.data:
        raise document.error(None, "expected a mapping with a `queries` list", document.data)
    return normalise_queries(document.data["queries"], document)


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


def run_query_benchmark(
    dsn: str,
    queries: list | None = None,
    connections: int = 100,
    duration_s: float = 30,
    *,
    rate: float | None = None,
    read_only: bool = True,
    statement_timeout_s: float = QUERY_TIMEOUT_S,
    connection_margin: int = CONNECTION_MARGIN,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Run ``queries`` (SQL strings or ``{name, sql, weight}``; default: top read-only pg_stat_statements
    SELECTs) on ``connections`` concurrent connections for ``duration_s`` seconds.

    The connection count is capped at max_connections - reserved - in use - ``connection_margin``
    (``connection_cap`` in the result says so). ``rate`` paces the total queries/s (open model; without it,
    closed). ``read_only`` runs every session with default_transaction_read_only so a benchmark can never
    write. Returns ``LoadResult.to_dict()`` (spec: ``QuerySpec.to_dict()``, kind ``db``) plus
    ``connections`` (opened before the run) and ``connection_cap``.
    """
    executor = query_executor(connections, duration_s, rate)  # bad input is refused before connecting
    with connect(dsn) as conn:
        spec_queries = normalise_queries(queries) if queries is not None else top_read_only_statements(conn)
        cap = connection_cap(conn, connections, connection_margin)
        database, server_version = conn.info.dbname, conn.info.server_version
    if cap["used"] < 1:
        raise ConfigError(f"connections: no connection slot left for the benchmark ({cap['note']})")
    spec = QuerySpec.of(
        with_connections(executor, cap["used"]),
        spec_queries,
        connections,
        read_only=read_only,
        statement_timeout_s=statement_timeout_s,
        target=redact(dsn),
        database=database,
        server_version=server_version,
    )
    log.info(
        "db benchmark: %s, %d connections (%s), %ss, queries %s",
        spec.executor,
        cap["used"],
        cap["note"],
        duration_s,
        [q["name"] for q in spec_queries],
    )
    process = query_generator(spec, dsn, progress)

    async def main() -> LoadResult:
        try:
            open_errors = await process.open_connections(cap["used"])
            if open_errors:
                cap["note"] += f"; {len(open_errors)} connection(s) failed to open: {open_errors[0]}"
            opened = process.opened
            result = await process.run(time.time() + START_DELAY_S)
        finally:
            await process.close_connections()
        result.extra = {"connections": opened, "connection_cap": cap}
        return result

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main()).to_dict()


def _loop_factory():
    """uvloop when installed (it is a runtime requirement of the load engine), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
