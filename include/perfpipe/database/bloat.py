"""Bloat estimates for tables and btree indexes from the catalog (pg_class) and planner statistics (pg_stats).

Expected size = rows x estimated tuple size (header, null bitmap, alignment, line pointer) packed at the
relation's fillfactor; bloat = actual pages beyond that. Reads no table data and takes no locks, so it is
an estimate: relations lacking statistics for some column (or with expression keys) are skipped.
"""

from __future__ import annotations

import math

import psycopg
from psycopg import sql

from .connection import qualified, render
from .findings import finding

MAXALIGN = 8
PAGE_HEADER = 24
LINE_POINTER = 4
HEAP_TUPLE_HEADER = 23
INDEX_TUPLE_HEADER = 8
BTREE_SPECIAL = 16


def _align(n: float) -> float:
    return math.ceil(n / MAXALIGN) * MAXALIGN


def estimate_bloat(relpages: int, expected_pages: int, block_size: int) -> tuple[int, float]:
    """(bloat bytes, bloat percent of the actual size)."""
    extra = max(relpages - expected_pages, 0)
    return extra * block_size, (100.0 * extra / relpages if relpages else 0.0)


def expected_table_pages(
    reltuples: float, data_width: float, natts: int, has_nulls: bool, fillfactor: int, block_size: int
) -> int:
    header = HEAP_TUPLE_HEADER + (math.ceil(natts / 8) if has_nulls else 0)
    tuple_size = _align(header) + _align(data_width) + LINE_POINTER
    per_page = max(math.floor((block_size - PAGE_HEADER) * fillfactor / 100 / tuple_size), 1)
    return math.ceil(reltuples / per_page) if reltuples > 0 else 0


def expected_btree_pages(reltuples: float, data_width: float, has_nulls: bool, fillfactor: int, block_size: int) -> int:
    tuple_size = _align(INDEX_TUPLE_HEADER + (4 if has_nulls else 0) + data_width) + LINE_POINTER
    per_page = max(math.floor((block_size - PAGE_HEADER - BTREE_SPECIAL) * fillfactor / 100 / tuple_size), 1)
    return 1 + (math.ceil(reltuples / per_page) if reltuples > 0 else 0)  # + metapage


_FILLFACTOR = """coalesce((SELECT substring(o FROM 'fillfactor=([0-9]+)')::int FROM unnest({rel}.reloptions) o
                            WHERE o LIKE 'fillfactor=%'), {default})"""

_TABLES = f"""
SELECT n.nspname AS schema, c.relname AS name, c.relpages, c.reltuples::float8 AS reltuples,
       {_FILLFACTOR.format(rel="c", default=100)} AS fillfactor,
       count(a.attnum) AS natts, count(s.attname) AS nstats,
       coalesce(sum((1 - s.null_frac) * s.avg_width), 0)::float8 AS data_width,
       coalesce(max(s.null_frac), 0) > 0 AS has_nulls
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
       AND NOT s.inherited
 WHERE c.relkind IN ('r', 'm') AND c.relpages > 0 AND c.reltuples >= 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 GROUP BY 1, 2, 3, 4, 5
"""

_BTREE_INDEXES = f"""
SELECT n.nspname AS schema, t.relname AS table, c.relname AS name, c.relpages, c.reltuples::float8 AS reltuples,
       {_FILLFACTOR.format(rel="c", default=90)} AS fillfactor,
       i.indexprs IS NOT NULL AS has_expressions, i.indnatts AS natts, count(s.attname) AS nstats,
       coalesce(sum(s.avg_width), 0)::float8 AS data_width, coalesce(max(s.null_frac), 0) > 0 AS has_nulls
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_am am ON am.oid = c.relam AND am.amname = 'btree'
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[]) AND a.attnum > 0
  LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
       AND NOT s.inherited
 WHERE c.relpages > 0 AND c.reltuples >= 0 AND i.indisvalid
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""


def _block_size(conn: psycopg.Connection) -> int:
    return int(conn.execute("SELECT current_setting('block_size') AS bs").fetchone()["bs"])


def _report(
    kind: str,
    name: str,
    relpages: int,
    expected: int,
    bs: int,
    cfg: dict,
    extra: dict,
    recommendation: str,
    statement: str,
) -> dict | None:
    bloat_bytes, bloat_pct = estimate_bloat(relpages, expected, bs)
    if bloat_bytes < cfg["bloat_min_bytes"] or bloat_pct < cfg["bloat_min_pct"]:
        return None
    return finding(
        f"{kind}_bloat",
        "warning",
        name,
        {
            **extra,
            "actual_bytes": relpages * bs,
            "expected_bytes": expected * bs,
            "bloat_bytes": bloat_bytes,
            "bloat_pct": round(bloat_pct, 2),
            "threshold_bytes": cfg["bloat_min_bytes"],
            "threshold_pct": cfg["bloat_min_pct"],
        },
        recommendation,
        statement,
    )


def check_table_bloat(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Tables whose estimated bloat reaches both ``bloat_min_bytes`` and ``bloat_min_pct``."""
    bs = _block_size(conn)
    found = []
    for r in conn.execute(_TABLES).fetchall():
        if r["nstats"] < r["natts"]:
            continue  # not analyzed (or columns without statistics): no reliable estimate
        expected = expected_table_pages(
            r["reltuples"], r["data_width"], r["natts"], r["has_nulls"], r["fillfactor"], bs
        )
        item = _report(
            "table",
            f"{r['schema']}.{r['name']}",
            r["relpages"],
            expected,
            bs,
            cfg,
            {"estimated_rows": int(r["reltuples"]), "fillfactor": r["fillfactor"]},
            "Reclaim the space without blocking writes with pg_repack; VACUUM (FULL) also works but takes an "
            "ACCESS EXCLUSIVE lock for the whole rewrite. Then check why autovacuum fell behind.",
            render(conn, sql.SQL("VACUUM (FULL, ANALYZE) {}").format(qualified(r["schema"], r["name"]))),
        )
        if item:
            found.append(item)
    return found


def check_index_bloat(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Btree indexes whose estimated bloat reaches both ``bloat_min_bytes`` and ``bloat_min_pct``."""
    bs = _block_size(conn)
    found = []
    for r in conn.execute(_BTREE_INDEXES).fetchall():
        if r["has_expressions"] or r["nstats"] < r["natts"]:
            continue
        expected = expected_btree_pages(r["reltuples"], r["data_width"], r["has_nulls"], r["fillfactor"], bs)
        item = _report(
            "index",
            f"{r['schema']}.{r['name']}",
            r["relpages"],
            expected,
            bs,
            cfg,
            {
                "schema": r["schema"],
                "index": r["name"],
                "table": f"{r['schema']}.{r['table']}",
                "estimated_rows": int(r["reltuples"]),
                "fillfactor": r["fillfactor"],
            },
            "Rebuild the index online.",
            render(conn, sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(qualified(r["schema"], r["name"]))),
        )
        if item:
            found.append(item)
    return found
