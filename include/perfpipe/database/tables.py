"""Table-level insights: table analysis, stale (auto)vacuum/analyze, sequential-scan-heavy tables, cache hit rate."""

from __future__ import annotations

import psycopg
from psycopg import errors, sql

from . import autovacuum
from .connection import connect, qualified, render, session_timeouts
from .findings import age_words, finding, jsonable, size_words
from .statistics import statistics_since


def size_sql(oid_expr: str, function: str = "pg_total_relation_size") -> str:
    """``function(oid)``, or NULL while another session holds an ACCESS EXCLUSIVE lock on it (never waits)."""
    return (
        f"CASE WHEN NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.relation = {oid_expr}"
        f" AND l.mode = 'AccessExclusiveLock' AND l.granted) THEN {function}({oid_expr}) END"
    )


_SIZES = ("total_bytes", "table_bytes", "index_bytes")
_TABLE_STATS = """
SELECT s.relid, s.schemaname AS schema, s.relname AS table,
       {sizes},
       s.n_live_tup AS live_tuples, s.n_dead_tup AS dead_tuples,
       round(100.0 * s.n_dead_tup / nullif(s.n_live_tup + s.n_dead_tup, 0), 2) AS dead_pct,
       s.n_mod_since_analyze AS modified_since_analyze,
       s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0) AS idx_scan,
       round(100.0 * coalesce(s.idx_scan, 0) / nullif(s.seq_scan + coalesce(s.idx_scan, 0), 0), 2) AS index_use_pct,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum))::float8 AS vacuum_age_s,
       extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze))::float8 AS analyze_age_s
  FROM pg_stat_user_tables s
 ORDER BY total_bytes DESC NULLS LAST, s.schemaname, s.relname
"""
_WITH_SIZES = _TABLE_STATS.format(
    sizes=f"{size_sql('s.relid')} AS total_bytes, {size_sql('s.relid', 'pg_relation_size')} AS table_bytes, "
    f"{size_sql('s.relid', 'pg_indexes_size')} AS index_bytes"
)
_WITHOUT_SIZES = _TABLE_STATS.format(sizes=", ".join(f"NULL::bigint AS {size}" for size in _SIZES))
_ONE_TABLE_SIZES = (
    "SELECT pg_total_relation_size(%(oid)s) AS total_bytes, pg_relation_size(%(oid)s) AS table_bytes,"
    " pg_indexes_size(%(oid)s) AS index_bytes"
)
LOCK_TIMEOUT_S = 2  # a size query queued behind a waiting ALTER TABLE gives up after this
STATEMENT_TIMEOUT_S = 60  # and the whole query after this


def fetch_table_stats(conn: psycopg.Connection) -> list[dict]:
    """The table statistics; if a size query meets a lock (the session's lock_timeout), every table is
    sized on its own and a locked one gets NULL sizes and ``size_skipped``, the reason."""
    try:
        rows = conn.execute(_WITH_SIZES).fetchall()
    except errors.LockNotAvailable:
        rows = conn.execute(_WITHOUT_SIZES).fetchall()
        for row in rows:
            try:
                row.update(conn.execute(_ONE_TABLE_SIZES, {"oid": row["relid"]}).fetchone())
            except errors.LockNotAvailable as exc:
                row["size_skipped"] = f"table locked, sizes unknown: {str(exc).strip()}"
    return [{k: jsonable(v) for k, v in row.items() if k != "relid"} for row in rows]


def table_stats(
    dsn: str, lock_timeout_s: float = LOCK_TIMEOUT_S, statement_timeout_s: float = STATEMENT_TIMEOUT_S
) -> list[dict]:
    """One row per user table: sizes, live/dead tuples, scans, last (auto)vacuum/analyze and their ages.

    Never waits longer than ``lock_timeout_s`` for a table's lock (that table's sizes are skipped, with
    the reason) or ``statement_timeout_s`` for a query.
    """
    with connect(dsn, options=session_timeouts(lock_timeout_s, statement_timeout_s)) as conn:
        return fetch_table_stats(conn)


def _age_days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 86400.0, 3)


def _dead_bytes(t: dict) -> int | None:
    """The table's bytes the dead tuples hold, in proportion to their share of its tuples."""
    if t["table_bytes"] is None or not t["dead_tuples"]:
        return None
    return round(t["table_bytes"] * t["dead_tuples"] / (t["dead_tuples"] + t["live_tuples"]))


def overdue(last_age_s: float | None, statistics_age_s: float, limit_days: float, blocked: str | None) -> bool:
    """Past a trigger, is the table overdue? At once if autovacuum will never process it; else only when it has
    gone ``limit_days`` without a (auto)vacuum or analyze, counted from the start of the statistics if it
    never had one (autovacuum reaches a table within a minute of its crossing: a crossing younger than a
    day is autovacuum's next round, not a finding)."""
    if blocked:
        return True
    return (statistics_age_s if last_age_s is None else last_age_s) > limit_days * 86400


def _when(done: str, age_s: float | None, statistics: dict) -> str:
    if age_s is None:
        return f"not {done} since the statistics began {age_words(statistics['age_s'])} ago"
    return f"not {done} for {age_words(age_s)}"


def check_stale_maintenance(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Tables past one of autovacuum's own triggers (its thresholds for the table, reloptions included) that
    autovacuum will not process (off for the server or the table), or has not for ``stale_vacuum_days`` /
    ``stale_analyze_days``. Below every trigger a table is not stale, however long ago its last vacuum."""
    settings = autovacuum.server_settings(conn)
    statistics = statistics_since(conn)
    inputs = {(t["schema"], t["table"]): t for t in autovacuum.table_inputs(conn)}
    found = []
    for t in fetch_table_stats(conn):
        source = inputs.get((t["schema"], t["table"]))
        if source is None:  # a partitioned parent: autovacuum processes its partitions, never it
            continue
        options = autovacuum.options_of(source["options"])
        crossed = autovacuum.crossed_triggers(source, source["reltuples"], options, settings)
        blocked = autovacuum.why_not_processed(options, settings)
        name = f"{t['schema']}.{t['table']}"
        target = qualified(t["schema"], t["table"])
        evidence = {
            "live_tuples": t["live_tuples"],
            "total_bytes": t["total_bytes"],
            "autovacuum_blocked_by": blocked,
            "statistics_since": statistics["since"],
        }
        vacuum_due = [c for c in crossed if c["trigger"] in ("vacuum", "insert_vacuum")]
        if vacuum_due and overdue(t["vacuum_age_s"], statistics["age_s"], cfg["stale_vacuum_days"], blocked):
            dead = any(c["trigger"] == "vacuum" for c in vacuum_due)
            dead_bytes = _dead_bytes(t)
            cost = (
                f"{t['dead_tuples']:,} dead tuples"
                + (f" (about {size_words(dead_bytes)} of the table)" if dead_bytes else "")
                + " that scans still read"
                if dead
                else "inserted pages are neither frozen nor all-visible (index-only scans read the heap)"
            )
            found.append(
                finding(
                    "stale_vacuum",
                    "warning" if dead else "info",
                    name,
                    {
                        **evidence,
                        "dead_tuples": t["dead_tuples"],
                        "dead_bytes": dead_bytes,
                        "dead_pct": t["dead_pct"],
                        "last_vacuum": t["last_vacuum"],
                        "last_autovacuum": t["last_autovacuum"],
                        "days_since_vacuum": _age_days(t["vacuum_age_s"]),
                        "threshold_days": cfg["stale_vacuum_days"],
                        "crossed": vacuum_due,
                    },
                    f"Past autovacuum's trigger ({'; '.join(map(autovacuum.describe_trigger, vacuum_due))}), "
                    f"{_when('vacuumed', t['vacuum_age_s'], statistics)}"
                    + (f", and autovacuum will not vacuum it ({blocked})" if blocked else "")
                    + f": {cost}. Vacuum it (perfpipe vacuum_analyze does it safely)"
                    + (
                        "."
                        if blocked
                        else " and check why autovacuum does not (busy workers, long transactions holding back "
                        "cleanup)."
                    ),
                    render(conn, sql.SQL("VACUUM (ANALYZE) {}").format(target)),
                )
            )
        analyze_due = [c for c in crossed if c["trigger"] == "analyze"]
        if analyze_due and overdue(t["analyze_age_s"], statistics["age_s"], cfg["stale_analyze_days"], blocked):
            found.append(
                finding(
                    "stale_analyze",
                    "warning",
                    name,
                    {
                        **evidence,
                        "modified_since_analyze": t["modified_since_analyze"],
                        "last_analyze": t["last_analyze"],
                        "last_autoanalyze": t["last_autoanalyze"],
                        "days_since_analyze": _age_days(t["analyze_age_s"]),
                        "threshold_days": cfg["stale_analyze_days"],
                        "crossed": analyze_due,
                    },
                    f"Past autovacuum's analyze trigger ({autovacuum.describe_trigger(analyze_due[0])}), "
                    f"{_when('analyzed', t['analyze_age_s'], statistics)}"
                    + (f", and autovacuum will not analyze it ({blocked})" if blocked else "")
                    + f": the planner estimates from statistics {t['modified_since_analyze']:,} changed rows out of "
                    "date. Analyze it.",
                    render(conn, sql.SQL("ANALYZE {}").format(target)),
                )
            )
    return found


def check_seq_scans(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Tables of at least ``seq_scan_min_rows`` rows read by index less than ``index_use_min_pct`` of the time."""
    rows = conn.execute(
        """SELECT schemaname AS schema, relname AS table, relid, seq_scan, seq_tup_read,
                  coalesce(idx_scan, 0) AS idx_scan, n_live_tup AS live_tuples,
                  round(100.0 * coalesce(idx_scan, 0) / (seq_scan + coalesce(idx_scan, 0)), 2)::float8 AS index_use_pct
             FROM pg_stat_user_tables
            WHERE seq_scan > 0 AND n_live_tup >= %s
            ORDER BY seq_tup_read DESC""",
        [cfg["seq_scan_min_rows"]],
    ).fetchall()
    rows = [r for r in rows if r["index_use_pct"] < cfg["index_use_min_pct"]]
    return [
        finding(
            "seq_scans",
            "warning",
            f"{r['schema']}.{r['table']}",
            {
                "seq_scan": r["seq_scan"],
                "seq_tup_read": r["seq_tup_read"],
                "idx_scan": r["idx_scan"],
                "index_use_pct": r["index_use_pct"],
                "live_tuples": r["live_tuples"],
                "threshold_pct": cfg["index_use_min_pct"],
                "threshold_rows": cfg["seq_scan_min_rows"],
            },
            "See this table's index_advice and fk_without_index findings: candidate indexes parsed from "
            "pg_stat_statements and checked against the planner. Without any, find the queries scanning it "
            "(slow_queries, pg_stat_statements) and EXPLAIN them.",
        )
        for r in rows
    ]


def check_cache_hit_rate(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Buffer cache hit rate of user tables and of user indexes below ``cache_hit_min_pct``."""
    row = conn.execute(
        """SELECT (SELECT coalesce(sum(heap_blks_hit), 0) FROM pg_statio_user_tables)::float8 AS table_hit,
                  (SELECT coalesce(sum(heap_blks_read), 0) FROM pg_statio_user_tables)::float8 AS table_read,
                  (SELECT coalesce(sum(idx_blks_hit), 0) FROM pg_statio_user_indexes)::float8 AS index_hit,
                  (SELECT coalesce(sum(idx_blks_read), 0) FROM pg_statio_user_indexes)::float8 AS index_read,
                  pg_stat_get_db_stat_reset_time((SELECT oid FROM pg_database WHERE datname = current_database()))
                    AS stats_reset"""
    ).fetchone()
    found = []
    for kind in ("table", "index"):
        hit, read = row[f"{kind}_hit"], row[f"{kind}_read"]
        if hit + read < max(cfg["cache_hit_min_blocks"], 1):
            continue
        pct = 100.0 * hit / (hit + read)
        if pct < cfg["cache_hit_min_pct"]:
            found.append(
                finding(
                    "cache_hit_rate",
                    "warning",
                    f"{conn.info.dbname} {kind}s",
                    {
                        "hit_pct": round(pct, 3),
                        "blocks_hit": int(hit),
                        "blocks_read": int(read),
                        "threshold_pct": cfg["cache_hit_min_pct"],
                        "stats_reset": row["stats_reset"],
                    },
                    f"The {kind} working set does not fit in shared_buffers: raise shared_buffers (about 25 % of RAM), "
                    "add memory, or cut the data read (indexes for sequential scans, drop bloat).",
                )
            )
    return found
