"""Session insights from pg_stat_activity and pg_locks: connection use, idle in transaction, long-running
and blocked queries. Sessions are those of the inspected database; connection use is server-wide."""

from __future__ import annotations

import psycopg
from psycopg import sql

from .connection import render
from .findings import finding

QUERY_TEXT_MAX = 1_000


def _session(row: dict) -> str:
    app = f" ({row['application_name']})" if row.get("application_name") else ""
    return f"pid {row['pid']}{app}"


def check_connections(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Client connections at or above ``connections_max_pct`` of max_connections."""
    row = conn.execute(
        """SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS used,
                  count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle') AS idle,
                  current_setting('max_connections')::int AS max_connections,
                  current_setting('superuser_reserved_connections')::int AS superuser_reserved
             FROM pg_stat_activity"""
    ).fetchone()
    pct = 100.0 * row["used"] / row["max_connections"]
    if pct < cfg["connections_max_pct"]:
        return []
    full = row["used"] >= row["max_connections"] - row["superuser_reserved"]
    return [
        finding(
            "connections",
            "critical" if full else "warning",
            "server",
            {**row, "used_pct": round(pct, 2), "threshold_pct": cfg["connections_max_pct"]},
            "Use a connection pooler (PgBouncer, transaction mode) or smaller application pools; idle connections "
            "still cost memory.",
        )
    ]


def check_idle_in_transaction(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """More than ``idle_in_transaction_max_count`` sessions idle in transaction, or any idle longer than
    ``idle_in_transaction_max_s``: they hold locks and stop vacuum from removing dead rows."""
    rows = conn.execute(
        """SELECT pid, usename, application_name, client_addr::text, xact_start, state,
                  extract(epoch FROM now() - state_change)::float8 AS idle_s, left(query, %s) AS last_query
             FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND state IN ('idle in transaction', 'idle in transaction (aborted)')
            ORDER BY state_change""",
        [QUERY_TEXT_MAX],
    ).fetchall()
    found = []
    if len(rows) > cfg["idle_in_transaction_max_count"]:
        found.append(
            finding(
                "idle_in_transaction",
                "warning",
                conn.info.dbname,
                {"sessions": len(rows), "threshold_count": cfg["idle_in_transaction_max_count"]},
                "Too many sessions idle in transaction: fix the application's transaction handling and set a timeout.",
                render(
                    conn,
                    sql.SQL("ALTER DATABASE {} SET idle_in_transaction_session_timeout = '5min'").format(
                        sql.Identifier(conn.info.dbname)
                    ),
                ),
            )
        )
    for r in rows:
        if r["idle_s"] > cfg["idle_in_transaction_max_s"]:
            found.append(
                finding(
                    "idle_in_transaction",
                    "warning",
                    _session(r),
                    {
                        **{
                            k: r[k]
                            for k in (
                                "pid",
                                "usename",
                                "application_name",
                                "client_addr",
                                "xact_start",
                                "state",
                                "last_query",
                            )
                        },
                        "idle_s": round(r["idle_s"], 3),
                        "threshold_s": cfg["idle_in_transaction_max_s"],
                    },
                    "This session holds its transaction open while doing nothing; end it in the application, or "
                    "terminate it.",
                    f"SELECT pg_terminate_backend({int(r['pid'])})",
                )
            )
    return found


def check_long_running(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Queries active for longer than ``long_running_s``."""
    rows = conn.execute(
        """SELECT pid, usename, application_name, query_start, wait_event_type, wait_event,
                  extract(epoch FROM now() - query_start)::float8 AS running_s, left(query, %s) AS query
             FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
              AND backend_type = 'client backend' AND now() - query_start > make_interval(secs => %s)
            ORDER BY query_start""",
        [QUERY_TEXT_MAX, cfg["long_running_s"]],
    ).fetchall()
    return [
        finding(
            "long_running_queries",
            "warning",
            _session(r),
            {**r, "running_s": round(r["running_s"], 3), "threshold_s": cfg["long_running_s"]},
            "Check the query's plan (EXPLAIN) and what it waits on; cancel it if it is runaway, and set "
            "statement_timeout for the role.",
            f"SELECT pg_cancel_backend({int(r['pid'])})",
        )
        for r in rows
    ]


def check_blocked(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Sessions waiting on a lock that another session holds (a pg_locks entry not granted)."""
    rows = conn.execute(
        """SELECT a.pid, a.usename, a.application_name, pg_blocking_pids(a.pid) AS blocking_pids,
                  extract(epoch FROM now() - a.query_start)::float8 AS waiting_s, left(a.query, %s) AS query,
                  l.locktype, l.mode, l.relation::regclass::text AS relation,
                  (SELECT string_agg(left(b.query, %s), ' | ') FROM pg_stat_activity b
                    WHERE b.pid = ANY (pg_blocking_pids(a.pid))) AS blocking_queries
             FROM pg_stat_activity a
             JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
            WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
              AND cardinality(pg_blocking_pids(a.pid)) > 0
            ORDER BY a.query_start""",
        [QUERY_TEXT_MAX, QUERY_TEXT_MAX],
    ).fetchall()
    return [
        finding(
            "blocked_queries",
            "warning",
            _session(r),
            {**r, "waiting_s": round(r["waiting_s"] or 0.0, 3)},
            f"Waiting for a {r['mode']} lock held by pid(s) {', '.join(map(str, r['blocking_pids']))}: end or "
            "shorten the blocking transaction; set lock_timeout for DDL.",
            f"SELECT pg_cancel_backend({int(r['blocking_pids'][0])})",
        )
        for r in rows
    ]
