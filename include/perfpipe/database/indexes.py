"""Index insights: unused, duplicate (covered by another index) and invalid indexes."""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from .connection import qualified, render
from .findings import age_words, finding, size_words
from .statistics import statistics_since
from .tables import size_sql

LEFTOVER_OF_REINDEX = re.compile(r"_cc(new|old)\d*$")


_UNUSED = f"""
SELECT s.schemaname AS schema, s.relname AS table, s.indexrelname AS index,
       {size_sql("s.indexrelid", "pg_relation_size")} AS index_bytes,
       coalesce(t.n_tup_ins + t.n_tup_upd + t.n_tup_del, 0) AS table_writes,
       pg_get_indexdef(s.indexrelid) AS definition
  FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
  LEFT JOIN pg_stat_user_tables t ON t.relid = s.relid
 WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
"""


def unused_cost_order(row: dict) -> tuple:
    """Most costly first: writes to the table (each one maintains the index, on the hot path), then size (disk
    and backups; an index never written is never read into the cache either)."""
    return (-row["table_writes"], -(row["index_bytes"] or 0), row["schema"], row["index"])


def check_unused_indexes(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Valid indexes backing no constraint that no scan has used since the statistics began, ranked by cost.

    Statistics younger than ``unused_index_min_stats_days`` prove nothing: one ``info`` finding says so instead.
    An index whose table took writes, or of ``negligible_bytes`` or more, is a warning; else info.
    """
    stats = statistics_since(conn)
    window_s = cfg["unused_index_min_stats_days"] * 86400
    rows = conn.execute(_UNUSED).fetchall()
    if stats["age_s"] < window_s:
        message = f"statistics are {age_words(stats['age_s'])} old: the unused-index check needs {age_words(window_s)}"
        return [
            finding(
                "unused_indexes",
                "info",
                conn.info.dbname,
                {
                    "statistics_since": stats["since"],
                    "statistics_source": stats["source"],
                    "statistics_age_s": round(stats["age_s"], 1),
                    "threshold_days": cfg["unused_index_min_stats_days"],
                    "not_scanned_yet": len(rows),
                },
                f"{message} ({len(rows)} indexes have not been scanned so far).",
            )
        ]
    found = []
    for r in sorted(rows, key=unused_cost_order):
        costs = r["table_writes"] > 0 or (r["index_bytes"] or 0) >= cfg["negligible_bytes"]
        cost = f"{size_words(r['index_bytes'])}, " + (
            f"updated by each of the {r['table_writes']:,} writes to {r['table']}"
            if r["table_writes"]
            else f"no writes to {r['table']}"
        )
        found.append(
            finding(
                "unused_indexes",
                "warning" if costs else "info",
                f"{r['schema']}.{r['index']}",
                {
                    "schema": r["schema"],
                    "index": r["index"],
                    "table": f"{r['schema']}.{r['table']}",
                    "idx_scan": 0,
                    "index_bytes": r["index_bytes"],
                    "table_writes": r["table_writes"],
                    "definition": r["definition"],
                    "statistics_since": stats["since"],
                    "statistics_source": stats["source"],
                    "statistics_age_s": round(stats["age_s"], 1),
                    "threshold_days": cfg["unused_index_min_stats_days"],
                },
                f"No scan in {age_words(stats['age_s'])} of statistics ({cost}). If replicas do not use it "
                "either, drop it.",
                render(conn, sql.SQL("DROP INDEX CONCURRENTLY {}").format(qualified(r["schema"], r["index"]))),
            )
        )
    return found


_INDEXES = f"""
SELECT n.nspname AS schema, t.relname AS table, c.relname AS index, i.indexrelid AS oid, i.indrelid,
       am.amname AS method, (i.indkey::int2[])[0:i.indnkeyatts - 1] AS keys,
       (i.indclass::oid[])[0:i.indnkeyatts - 1] AS opclasses,
       (i.indcollation::oid[])[0:i.indnkeyatts - 1] AS collations,
       i.indnatts > i.indnkeyatts AS has_include, i.indexprs IS NOT NULL AS has_expressions,
       coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS predicate,
       i.indisunique AS is_unique, i.indisprimary AS is_primary,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS backs_constraint,
       {size_sql("i.indexrelid", "pg_relation_size")} AS index_bytes, pg_get_indexdef(i.indexrelid) AS definition,
       (SELECT coalesce(t.n_tup_ins + t.n_tup_upd + t.n_tup_del, 0) FROM pg_stat_user_tables t
         WHERE t.relid = i.indrelid) AS table_writes
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_am am ON am.oid = c.relam
 WHERE i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 ORDER BY i.indrelid, i.indexrelid
"""


def covering_index(index: dict, other: dict) -> bool:
    """True if ``other`` makes ``index`` redundant: same table, method and predicate, and ``index``'s key
    columns (with operator classes and collations) are a leading prefix of ``other``'s."""
    if index["oid"] == other["oid"] or index["indrelid"] != other["indrelid"]:
        return False
    if index["has_expressions"] or other["has_expressions"] or index["has_include"] or index["backs_constraint"]:
        return False
    if index["method"] != other["method"] or index["predicate"] != other["predicate"]:
        return False
    n = len(index["keys"])
    for field in ("keys", "opclasses", "collations"):
        if list(other[field][:n]) != list(index[field]):
            return False
    same_keys = len(other["keys"]) == n
    if index["is_unique"] and not (other["is_unique"] and same_keys):
        return False  # a unique index enforces a constraint the wider index does not
    if same_keys and index["is_unique"] == other["is_unique"]:
        # identical twins: report only the newer one (higher oid), never both
        return index["oid"] > other["oid"]
    return True


def check_duplicate_indexes(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Indexes whose columns are a leading prefix of another valid index with the same method and predicate.
    Always a warning: its size and one more index update per write are certain costs, for no lookup gained."""
    by_table: dict[int, list[dict]] = {}
    for row in conn.execute(_INDEXES).fetchall():
        by_table.setdefault(row["indrelid"], []).append(row)
    found = []
    for indexes in by_table.values():
        for index in indexes:
            cover = next((o for o in indexes if covering_index(index, o)), None)
            if cover is None:
                continue
            found.append(
                finding(
                    "duplicate_indexes",
                    "warning",
                    f"{index['schema']}.{index['index']}",
                    {
                        "schema": index["schema"],
                        "index": index["index"],
                        "table": f"{index['schema']}.{index['table']}",
                        "definition": index["definition"],
                        "covered_by": f"{cover['schema']}.{cover['index']}",
                        "covered_by_definition": cover["definition"],
                        "index_bytes": index["index_bytes"],
                        "table_writes": index["table_writes"] or 0,
                    },
                    f"Every lookup this index serves can use {cover['index']} instead, yet it takes "
                    f"{size_words(index['index_bytes'])} and each write to {index['table']} updates it "
                    f"({index['table_writes'] or 0:,} so far): drop it.",
                    render(
                        conn, sql.SQL("DROP INDEX CONCURRENTLY {}").format(qualified(index["schema"], index["index"]))
                    ),
                )
            )
    return found


def check_invalid_indexes(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Indexes left invalid (pg_index.indisvalid = false), e.g. by a failed CREATE/REINDEX ... CONCURRENTLY."""
    rows = conn.execute(f"""
        SELECT n.nspname AS schema, t.relname AS table, c.relname AS index,
               {size_sql("i.indexrelid", "pg_relation_size")} AS index_bytes,
               pg_get_indexdef(i.indexrelid) AS definition
          FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT i.indisvalid AND n.nspname <> 'pg_catalog'
         ORDER BY n.nspname, c.relname""").fetchall()
    found = []
    for r in rows:
        target = qualified(r["schema"], r["index"])
        if LEFTOVER_OF_REINDEX.search(r["index"]):
            advice = "Leftover of a failed REINDEX CONCURRENTLY: drop it."
            statement = sql.SQL("DROP INDEX CONCURRENTLY {}").format(target)
        else:
            advice = (
                "Not used by queries but still maintained on every write: rebuild it once the cause of the "
                "failure (e.g. duplicate keys for a unique index) is fixed, or drop it."
            )
            statement = sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(target)
        found.append(
            finding(
                "invalid_indexes",
                "warning",
                f"{r['schema']}.{r['index']}",
                {
                    "schema": r["schema"],
                    "index": r["index"],
                    "table": f"{r['schema']}.{r['table']}",
                    "definition": r["definition"],
                    "index_bytes": r["index_bytes"],
                },
                advice,
                render(conn, statement),
            )
        )
    return found


def check_useless_indexes(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Non-unique btree indexes of tables with at least ``useless_index_min_rows`` rows whose leading column
    holds one value (or only NULLs) per ``pg_stats``: no filter on it can ever select less than the table."""
    rows = conn.execute(
        f"""
        SELECT n.nspname AS schema, t.relname AS table, c.relname AS index, a.attname AS column,
               s.n_distinct::float8 AS n_distinct, s.null_frac::float8 AS null_frac,
               greatest(t.reltuples, 0)::float8 AS rows,
               {size_sql("i.indexrelid", "pg_relation_size")} AS index_bytes,
               pg_get_indexdef(i.indexrelid) AS definition
          FROM pg_index i
          JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = c.relam
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
          JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
         WHERE i.indisvalid AND NOT i.indisunique AND NOT i.indisprimary AND am.amname = 'btree'
           AND i.indpred IS NULL AND i.indkey[0] <> 0
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
           AND (s.null_frac = 1 OR (s.n_distinct = 1 AND s.null_frac = 0))
           AND t.reltuples >= %s
         ORDER BY n.nspname, c.relname""",
        [cfg["useless_index_min_rows"]],
    ).fetchall()
    found = []
    for r in rows:
        what = "is NULL in every row" if r["null_frac"] == 1 else "has the same value in every row"
        found.append(
            finding(
                "useless_indexes",
                "warning",
                f"{r['schema']}.{r['index']}",
                {
                    "schema": r["schema"],
                    "index": r["index"],
                    "table": f"{r['schema']}.{r['table']}",
                    "column": r["column"],
                    "n_distinct": r["n_distinct"],
                    "null_frac": r["null_frac"],
                    "rows": r["rows"],
                    "index_bytes": r["index_bytes"],
                    "definition": r["definition"],
                    "threshold_rows": cfg["useless_index_min_rows"],
                },
                f"Its leading column {r['column']} {what} (pg_stats): a lookup on it reads the whole table, so the "
                "planner will not use the index, yet every write maintains it. Drop it, or make it partial.",
                render(conn, sql.SQL("DROP INDEX CONCURRENTLY {}").format(qualified(r["schema"], r["index"]))),
            )
        )
    return found
