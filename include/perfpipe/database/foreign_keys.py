"""Foreign keys without a supporting index (postgres-checkup H003): every DELETE or key UPDATE on the
referenced table makes PostgreSQL look up the referencing rows, a sequential scan without an index."""

from __future__ import annotations

import psycopg
from psycopg import sql

from .findings import finding
from .index_advisor import HYPOPG_MISSING, Assessment, Relation, existing_index_keys, index_evidence
from .plans import explain, hypopg_available, hypopg_installed, hypothetical_plan
from .query_shapes import IndexCandidate, Table

_FOREIGN_KEYS = """
SELECT c.conname AS constraint, n.nspname AS schema, t.relname AS table, greatest(t.reltuples, 0)::float8 AS rows,
       array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
       rn.nspname || '.' || r.relname AS referenced
  FROM pg_constraint c
  JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
 WHERE c.contype = 'f' AND t.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY n.nspname, t.relname, c.conname
"""


def unindexed_foreign_keys(conn: psycopg.Connection) -> list[dict]:
    """Foreign keys whose columns do not lead any valid plain btree index of their table (in any order)."""
    found = []
    for fk in conn.execute(_FOREIGN_KEYS).fetchall():
        width = len(fk["columns"])
        keys = existing_index_keys(conn, fk["schema"], fk["table"])
        if not any(set(k[:width]) == set(fk["columns"]) for k in keys):
            found.append(dict(fk))
    return found


def lookup_query(conn: psycopg.Connection, schema: str, table: str, columns: list[str]) -> str:
    """The lookup the referential-integrity trigger runs on the referencing table, as SQL text."""
    condition = sql.SQL(" AND ").join(
        sql.SQL("{} = ${}").format(sql.Identifier(c), sql.SQL(str(n))) for n, c in enumerate(columns, 1)
    )
    return (
        sql.SQL("SELECT 1 FROM ONLY {}.{} x WHERE {} FOR KEY SHARE OF x")
        .format(sql.Identifier(schema), sql.Identifier(table), condition)
        .as_string(conn)
    )


def check_foreign_keys(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """``fk_without_index`` findings for tables of at least ``fk_index_min_rows`` rows; with HypoPG only
    where the index cuts the lookup's estimated cost by ``index_min_cost_cut_pct``."""
    verify = hypopg_installed(conn)
    found = []
    for fk in unindexed_foreign_keys(conn):
        if fk["rows"] < cfg["fk_index_min_rows"]:
            continue
        candidate = IndexCandidate(
            Table(fk["schema"], fk["table"]), tuple(fk["columns"]), (False,) * len(fk["columns"]), "foreign_key"
        )
        relation = Relation(fk["schema"], fk["table"], fk["rows"], set(fk["columns"]))
        query = lookup_query(conn, fk["schema"], fk["table"], fk["columns"])
        before = explain(conn, query, len(fk["columns"]), None)
        cost_after = None
        if verify:
            after, hypothetical = hypothetical_plan(conn, fk["schema"], candidate, query, len(fk["columns"]), None)
            if hypothetical not in after.indexes:
                continue
            cost_after = after.cost
        assessment = Assessment(candidate, relation, before.cost, cost_after)
        if verify and assessment.cost_cut_pct < cfg["index_min_cost_cut_pct"]:
            continue
        index = index_evidence(conn, assessment)
        if verify:
            advice = (
                f"Deleting or re-keying a row of {fk['referenced']} scans this table for referencing rows. "
                f"HypoPG: the lookup's estimated cost drops from {round(before.cost, 2)} to "
                f"{round(cost_after, 2)} ({assessment.cost_cut_pct} % less) with this index: create it."
            )
        else:
            advice = (
                f"Deleting or re-keying a row of {fk['referenced']} scans this table for referencing rows; "
                f"{HYPOPG_MISSING}."
            )
        found.append(
            finding(
                "fk_without_index",
                "warning",
                f"{index['schema']}.{index['name']}",
                {
                    "status": "verified" if verify else "unverified",
                    "table": f"{fk['schema']}.{fk['table']}",
                    "constraint": fk["constraint"],
                    "columns": fk["columns"],
                    "referenced": fk["referenced"],
                    "rows": fk["rows"],
                    "index": index,
                    "query": query,
                    "cost_before": round(before.cost, 2),
                    "cost_after": None if cost_after is None else round(cost_after, 2),
                    "cost_cut_pct": assessment.cost_cut_pct,
                    "threshold_rows": cfg["fk_index_min_rows"],
                    "threshold_cost_cut_pct": cfg["index_min_cost_cut_pct"],
                    "hypopg_available": verify or hypopg_available(conn),
                },
                advice,
                index["definition"],
            )
        )
    return found
