"""Index advice from plans: pg_stat_statements' busiest SELECTs, parsed with pglast, each candidate index
asked of the planner through HypoPG, recommended only when it cuts the estimated cost enough (Dexter's rule).

Without HypoPG in the database the same candidates are reported as ``unverified``, one per query, and only
where the planner expects the scan to keep few of the table's rows (or the index serves ORDER BY ... LIMIT).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from .findings import finding
from .plans import (
    Plan,
    explain,
    hypopg_available,
    hypopg_installed,
    hypothetical_plan,
    index_definition,
    parameter_values,
)
from .query_shapes import IndexCandidate, NotAnalyzable, Table, candidate_indexes, query_shape
from .statements import read_snapshot

log = logging.getLogger(__name__)

NAME_MAX_BYTES = 63
HYPOPG_MISSING = (
    "unverified: HypoPG is not installed in this database (CREATE EXTENSION hypopg; Debian/Ubuntu "
    "package postgresql-<version>-hypopg), so the planner was not asked whether it would use the index"
)


@dataclass
class Relation:
    """A table the advisor may index: its catalog identity, columns and existing plain btree key lists."""

    schema: str
    name: str
    rows: float
    columns: set[str]
    index_keys: list[tuple[str, ...]] = field(default_factory=list)

    def served(self, columns: tuple[str, ...]) -> bool:
        """Whether an existing index already leads with exactly these columns."""
        return any(keys[: len(columns)] == columns for keys in self.index_keys)


class Catalog:
    """Resolves tables as a query wrote them (search path included) to ordinary tables, cached."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.cache: dict[Table, Relation | None] = {}

    def relation(self, table: Table) -> Relation | None:
        if table not in self.cache:
            self.cache[table] = self._lookup(table)
        return self.cache[table]

    def columns_of(self, table: Table) -> set[str]:
        relation = self.relation(table)
        return relation.columns if relation else set()

    def resolve(self, table: Table) -> tuple[str, str] | None:
        relation = self.relation(table)
        return (relation.schema, relation.name) if relation else None

    def _lookup(self, table: Table) -> Relation | None:
        name = (
            sql.Identifier(table.name)
            if table.schema is None
            else sql.SQL(".").join([sql.Identifier(table.schema), sql.Identifier(table.name)])
        )
        row = self.conn.execute(
            """SELECT n.nspname AS schema, c.relname AS name, greatest(c.reltuples, 0)::float8 AS rows,
                      array(SELECT a.attname FROM pg_attribute a
                             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'm')
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema')""",
            [name.as_string(self.conn)],
        ).fetchone()
        if row is None:
            return None
        relation = Relation(row["schema"], row["name"], row["rows"], set(row["columns"]))
        relation.index_keys = existing_index_keys(self.conn, row["schema"], row["name"])
        return relation


def existing_index_keys(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, ...]]:
    """Key columns of the table's valid, non-partial, plain-column btree indexes."""
    rows = conn.execute(
        """SELECT array(SELECT a.attname FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1])
                          WITH ORDINALITY AS k(attnum, ord)
                          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                         ORDER BY k.ord) AS keys
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
            WHERE i.indrelid = to_regclass(quote_ident(%s) || '.' || quote_ident(%s))
              AND i.indisvalid AND am.amname = 'btree' AND i.indpred IS NULL AND i.indexprs IS NULL
              AND 0 <> ALL ((i.indkey::int2[])[0:i.indnkeyatts - 1])""",
        [schema, table],
    ).fetchall()
    return [tuple(r["keys"]) for r in rows]


def index_name(conn: psycopg.Connection, schema: str, table: str, columns: tuple[str, ...]) -> str:
    """``table_col1_col2_idx`` within PostgreSQL's 63 bytes, numbered when a relation has that name."""
    base = "_".join((table, *columns))
    for attempt in range(100):
        suffix = "_idx" if attempt == 0 else f"_idx{attempt}"
        stem = base.encode()[: NAME_MAX_BYTES - len(suffix)].decode(errors="ignore")
        name = stem + suffix
        taken = conn.execute(
            "SELECT to_regclass(quote_ident(%s) || '.' || quote_ident(%s)) IS NOT NULL AS taken", [schema, name]
        ).fetchone()["taken"]
        if not taken:
            return name
    raise ValueError(f"index name: every name for {schema}.{base} is taken")


@dataclass
class Assessment:
    """One query's verdict on one candidate."""

    candidate: IndexCandidate
    relation: Relation
    cost_before: float
    cost_after: float | None  # None: not verified

    @property
    def cost_cut_pct(self) -> float | None:
        if self.cost_after is None or self.cost_before <= 0:
            return None
        return round(100.0 * (1 - self.cost_after / self.cost_before), 1)


def assess_query(conn: psycopg.Connection, catalog: Catalog, query: str, cfg: dict, verify: bool) -> Assessment | None:
    """The best candidate index for one query, or None (nothing to index, or nothing that pays off)."""
    shape = query_shape(query, catalog.columns_of)
    candidates = []
    for candidate in candidate_indexes(shape):
        relation = catalog.relation(candidate.table)
        if relation and set(candidate.columns) <= relation.columns and not relation.served(candidate.columns):
            candidates.append((candidate, relation))
    if not candidates:
        return None
    n_parameters = max(shape.parameters, default=0)
    values = None if conn.info.server_version >= 160000 else parameter_values(conn, shape.parameters, catalog.resolve)
    before = explain(conn, query, n_parameters, values)
    if verify:
        return _best_verified(conn, query, n_parameters, values, before, candidates, cfg)
    return _best_unverified(before, candidates, cfg)


def _best_verified(conn, query, n_parameters, values, before: Plan, candidates, cfg) -> Assessment | None:
    best = None
    for candidate, relation in candidates:
        after, hypothetical = hypothetical_plan(conn, relation.schema, candidate, query, n_parameters, values)
        if hypothetical not in after.indexes:
            continue
        assessment = Assessment(candidate, relation, before.cost, after.cost)
        if best is None or (after.cost, len(candidate.columns)) < (best.cost_after, len(best.candidate.columns)):
            best = assessment
    if best is None or best.cost_cut_pct < cfg["index_min_cost_cut_pct"]:
        return None
    return best


def _best_unverified(before: Plan, candidates, cfg) -> Assessment | None:
    """The widest candidate whose table the plan expects to keep few rows of, or that serves ORDER BY LIMIT."""
    usable = []
    for candidate, relation in candidates:
        kept_pct = 100.0 * before.scan_rows.get(relation.name, relation.rows) / max(relation.rows, 1.0)
        if candidate.reason == "order_by" or kept_pct <= cfg["index_unverified_max_rows_pct"]:
            usable.append((candidate, relation))
    if not usable:
        return None
    candidate, relation = max(usable, key=lambda pair: (pair[0].reason == "order_by", len(pair[0].columns)))
    return Assessment(candidate, relation, before.cost, None)


def index_evidence(conn: psycopg.Connection, assessment: Assessment) -> dict:
    """The ``evidence.index`` block (what ``apply_recommendations`` creates) and its statement."""
    relation, candidate = assessment.relation, assessment.candidate
    name = index_name(conn, relation.schema, relation.name, candidate.columns)
    return {
        "schema": relation.schema,
        "table": relation.name,
        "columns": list(candidate.columns),
        "descending": list(candidate.descending),
        "name": name,
        "definition": index_definition(conn, relation.schema, candidate, name, concurrently=True),
    }


def statement_rows(conn: psycopg.Connection, statements: list[dict] | None) -> list[dict]:
    """``{queryid, query, calls, total_ms}`` rows: the given window rows, else pg_stat_statements' totals."""
    if statements is None:
        statements = read_snapshot(conn)["rows"]
    return [
        {
            "queryid": s["queryid"],
            "query": s["query"],
            "calls": int(s["calls"]),
            "total_ms": round(s["total_ms"] if "total_ms" in s else s["total_exec_ms"] + s["total_plan_ms"], 3),
        }
        for s in statements
    ]


def check_index_advice(conn: psycopg.Connection, cfg: dict, statements: list[dict] | None = None) -> list[dict]:
    """One ``index_advice`` finding per recommended index, with the queries it helps (busiest first)."""
    verify = hypopg_installed(conn)
    catalog = Catalog(conn)
    every = statement_rows(conn, statements)
    all_ms = sum(r["total_ms"] for r in every) or 1.0
    rows = [r for r in every if r["calls"] >= cfg["index_min_calls"]]
    rows.sort(key=lambda r: r["total_ms"], reverse=True)
    advice: dict[tuple, tuple[Assessment, list[dict]]] = {}
    for row in rows[: int(cfg["index_max_queries"])]:
        try:
            assessment = assess_query(conn, catalog, row["query"], cfg, verify)
        except NotAnalyzable:
            continue
        except psycopg.Error as exc:  # e.g. a query on a table dropped since, or a permission
            log.info("index advice skipped queryid %s: %s", row["queryid"], str(exc).strip())
            continue
        if assessment is None:
            continue
        key = (
            assessment.relation.schema,
            assessment.relation.name,
            assessment.candidate.columns,
            assessment.candidate.descending,
        )
        helped = {
            **row,
            "cost_before": round(assessment.cost_before, 2),
            "cost_after": None if assessment.cost_after is None else round(assessment.cost_after, 2),
            "cost_cut_pct": assessment.cost_cut_pct,
        }
        advice.setdefault(key, (assessment, []))[1].append(helped)
    return [_advice_finding(conn, assessment, helped, verify, cfg, all_ms) for assessment, helped in advice.values()]


def _advice_finding(conn, assessment: Assessment, helped: list[dict], verified: bool, cfg: dict, all_ms: float) -> dict:
    """The finding, with the share of the database's query time the queries it serves take (its cost)."""
    index = index_evidence(conn, assessment)
    top = helped[0]
    status = "verified" if verified else "unverified"
    share = round(100.0 * sum(h["total_ms"] for h in helped) / all_ms, 2)
    if verified:
        advice = (
            f"HypoPG: with this index the planner's estimated cost of the busiest query it serves drops from "
            f"{top['cost_before']} to {top['cost_after']} ({top['cost_cut_pct']} % less, threshold "
            f"{cfg['index_min_cost_cut_pct']} %). Create it CONCURRENTLY; re-check the query's latency after."
        )
    else:
        advice = (
            HYPOPG_MISSING + ". The parsed query filters or sorts on these columns and the plan expects few "
            "rows: create the index CONCURRENTLY on a copy first, or install HypoPG to verify."
        )
    return finding(
        "index_advice",
        "warning",
        f"{index['schema']}.{index['name']}",
        {
            "status": status,
            "table": f"{index['schema']}.{index['table']}",
            "index": index,
            "reason": assessment.candidate.reason,
            "query": top["query"],
            "queryid": top["queryid"],
            "calls": top["calls"],
            "total_ms": top["total_ms"],
            "share_pct": share,
            "cost_before": top["cost_before"],
            "cost_after": top["cost_after"],
            "cost_cut_pct": top["cost_cut_pct"],
            "queries": helped,
            "threshold_cost_cut_pct": cfg["index_min_cost_cut_pct"],
            "threshold_calls": cfg["index_min_calls"],
            "hypopg_available": verified or hypopg_available(conn),
        },
        f"The queries it serves take {share} % of this database's query time. {advice}",
        index["definition"],
    )
