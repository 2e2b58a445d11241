"""pg_stat_statements, version-aware (PG 13 to 18): availability, snapshots, window deltas, slow queries.

PG 17 renamed ``blk_read_time``/``blk_write_time`` to ``shared_blk_read_time``/``shared_blk_write_time``
(and added local/temp variants); PG 13 split ``total_time`` into ``total_exec_time`` + ``total_plan_time``.
Columns are therefore chosen by what the installed view has, not by the server version number.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import errors, sql

from .connection import connect, render
from .findings import finding

UNAVAILABLE_NOT_PRELOADED = "slow-query analysis unavailable: add pg_stat_statements to shared_preload_libraries"
QUERY_TEXT_MAX = 2_000

# canonical name -> candidate view columns, newest first
_METRIC_COLUMNS = {
    "calls": ("calls",),
    "rows": ("rows",),
    "total_exec_ms": ("total_exec_time", "total_time"),
    "total_plan_ms": ("total_plan_time",),
    "shared_blks_hit": ("shared_blks_hit",),
    "shared_blks_read": ("shared_blks_read",),
    "temp_blks_written": ("temp_blks_written",),
    "blk_read_ms": ("shared_blk_read_time", "blk_read_time"),
    "blk_write_ms": ("shared_blk_write_time", "blk_write_time"),
}
_KEY_COLUMNS = ("userid", "dbid", "queryid", "toplevel")


def statements_status(conn: psycopg.Connection) -> dict:
    """``{available, installed, preloaded, readable, schema, reason}`` for the connected database."""
    row = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available,
                  (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                    WHERE e.extname = 'pg_stat_statements') AS schema,
                  current_setting('shared_preload_libraries') AS preload"""
    ).fetchone()
    preloaded = "pg_stat_statements" in [p.strip().strip('"') for p in row["preload"].split(",")]
    status = {
        "available": row["available"],
        "installed": row["schema"] is not None,
        "preloaded": preloaded,
        "readable": False,
        "schema": row["schema"],
        "reason": None,
    }
    if not row["available"]:
        status["reason"] = (
            "slow-query analysis unavailable: the pg_stat_statements extension is not shipped with this server"
        )
    elif status["installed"]:
        try:
            conn.execute(sql.SQL("SELECT 1 FROM {}.pg_stat_statements LIMIT 1").format(sql.Identifier(row["schema"])))
            status["readable"] = True
        except errors.ObjectNotInPrerequisiteState:  # SQLSTATE 55000: installed but not preloaded
            status["reason"] = UNAVAILABLE_NOT_PRELOADED
        except errors.InsufficientPrivilege as exc:
            status["reason"] = f"slow-query analysis unavailable: {exc.diag.message_primary}"
    elif not preloaded:
        status["reason"] = UNAVAILABLE_NOT_PRELOADED
    else:
        status["reason"] = (
            "slow-query analysis unavailable: run CREATE EXTENSION pg_stat_statements in database " + conn.info.dbname
        )
    return status


def _view_columns(conn: psycopg.Connection, schema: str) -> set[str]:
    rows = conn.execute(
        """SELECT a.attname FROM pg_attribute a
            WHERE a.attrelid = to_regclass(quote_ident(%s) || '.pg_stat_statements') AND a.attnum > 0""",
        [schema],
    ).fetchall()
    return {r["attname"] for r in rows}


def column_map(view_columns: set[str]) -> dict[str, str | None]:
    """Canonical metric name -> the column this view version has (None if it has none)."""
    return {
        name: next((c for c in candidates if c in view_columns), None) for name, candidates in _METRIC_COLUMNS.items()
    }


def read_snapshot(conn: psycopg.Connection) -> dict:
    """``snapshot_statements`` on an open connection."""
    status = statements_status(conn)
    snap = {
        "available": status["readable"],
        "reason": status["reason"],
        "taken_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": conn.info.dbname,
        "server_version": conn.info.server_version,
        "rows": [],
    }
    if not status["readable"]:
        return snap
    view_columns = _view_columns(conn, status["schema"])
    mapping = column_map(view_columns)
    snap["columns"] = mapping
    select = [sql.Identifier(c) if c in view_columns else sql.SQL("true AS toplevel") for c in _KEY_COLUMNS]
    select.append(sql.SQL("left(query, {}) AS query").format(sql.Literal(QUERY_TEXT_MAX)))
    for name, column in mapping.items():
        value = sql.Identifier(column) if column else sql.Literal(0)
        select.append(sql.SQL("{}::float8 AS {}").format(value, sql.Identifier(name)))
    query = sql.SQL(
        "SELECT {} FROM {}.pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND queryid IS NOT NULL AND query NOT ILIKE '%pg_stat_statements%'"
    ).format(sql.SQL(", ").join(select), sql.Identifier(status["schema"]))
    snap["rows"] = [dict(r) for r in conn.execute(query).fetchall()]
    return snap


def snapshot_statements(dsn: str) -> dict:
    """Cumulative pg_stat_statements rows of the DSN's database: ``{available, reason, rows, ...}``.

    Never raises for a missing or not-preloaded extension: ``available`` is False and ``reason`` says why.
    """
    with connect(dsn) as conn:
        return read_snapshot(conn)


def _key(row: dict) -> tuple:
    return tuple(row.get(k) for k in _KEY_COLUMNS)


def statements_delta(before: dict, after: dict, top: int | None = 20) -> list[dict]:
    """The queries that dominated the window between two snapshots, by plan + exec time spent in it.

    An entry missing from ``before`` or whose calls went down (evicted or reset) counts in full.
    Each row: queryid, query, calls, total_ms, mean_ms, rows, shared_blks_hit, shared_blks_read, share_pct.
    ``top`` None keeps every query of the window.
    """
    if not (before.get("available") and after.get("available")):
        return []
    earlier = {_key(r): r for r in before["rows"]}
    deltas = []
    for row in after["rows"]:
        base = earlier.get(_key(row))
        if base is None or row["calls"] < base["calls"]:
            base = {}
        calls = row["calls"] - base.get("calls", 0)
        if calls <= 0:
            continue
        total = (
            row["total_exec_ms"] + row["total_plan_ms"] - base.get("total_exec_ms", 0) - base.get("total_plan_ms", 0)
        )
        deltas.append(
            {
                "queryid": row["queryid"],
                "query": row["query"],
                "calls": int(calls),
                "total_ms": round(total, 3),
                "mean_ms": round(total / calls, 3),
                "rows": int(row["rows"] - base.get("rows", 0)),
                "shared_blks_hit": int(row["shared_blks_hit"] - base.get("shared_blks_hit", 0)),
                "shared_blks_read": int(row["shared_blks_read"] - base.get("shared_blks_read", 0)),
            }
        )
    window_total = sum(d["total_ms"] for d in deltas) or 1.0
    deltas.sort(key=lambda d: d["total_ms"], reverse=True)
    for d in deltas:
        d["share_pct"] = round(100.0 * d["total_ms"] / window_total, 2)
    return deltas if top is None else deltas[:top]


def check_slow_queries(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Statements with mean (plan + exec) time >= ``slow_query_mean_ms`` over >= ``slow_query_min_calls`` calls,
    each with its share of the database's query time."""
    snap = read_snapshot(conn)
    if not snap["available"]:
        preload = conn.execute("SELECT current_setting('shared_preload_libraries') AS v").fetchone()["v"]
        libraries = ", ".join(p for p in [preload.strip(), "pg_stat_statements"] if p)
        fix = None
        if snap["reason"] == UNAVAILABLE_NOT_PRELOADED:
            fix = render(conn, sql.SQL("ALTER SYSTEM SET shared_preload_libraries = {}").format(sql.Literal(libraries)))
        return [
            finding(
                "slow_queries",
                "info",
                conn.info.dbname,
                {"available": False, "reason": snap["reason"]},
                snap["reason"] + ("; then restart PostgreSQL and CREATE EXTENSION pg_stat_statements" if fix else ""),
                fix,
            )
        ]
    found = []
    all_ms = sum(row["total_exec_ms"] + row["total_plan_ms"] for row in snap["rows"]) or 1.0
    for row in snap["rows"]:
        total_ms = row["total_exec_ms"] + row["total_plan_ms"]
        mean = total_ms / row["calls"] if row["calls"] else 0.0
        if row["calls"] >= cfg["slow_query_min_calls"] and mean >= cfg["slow_query_mean_ms"]:
            share = round(100.0 * total_ms / all_ms, 2)
            found.append(
                finding(
                    "slow_queries",
                    "warning",
                    f"queryid {row['queryid']}",
                    {
                        "query": row["query"],
                        "calls": int(row["calls"]),
                        "mean_ms": round(mean, 3),
                        "total_ms": round(total_ms, 3),
                        "share_pct": share,
                        "rows": int(row["rows"]),
                        "shared_blks_read": int(row["shared_blks_read"]),
                        "threshold_mean_ms": cfg["slow_query_mean_ms"],
                    },
                    f"{mean:,.1f} ms a call over {int(row['calls']):,} calls: {share} % of this database's "
                    "query time (pg_stat_statements). Run EXPLAIN (ANALYZE, BUFFERS) on this query with typical "
                    "parameters; add an index for its "
                    "filter/join columns or rewrite it.",
                )
            )
    found.sort(key=lambda f: f["evidence"]["total_ms"], reverse=True)
    return found


def top_queries(window: list[dict], top: int = 10) -> dict[str, list[dict]]:
    """The load window's queries (``statements_delta`` rows) ranked by total and by mean time, each with
    its share of the window's total query time: ``{"by_total": [...], "by_mean": [...]}``."""
    return {
        "by_total": sorted(window, key=lambda d: d["total_ms"], reverse=True)[:top],
        "by_mean": sorted(window, key=lambda d: d["mean_ms"], reverse=True)[:top],
    }
