"""The planner's estimated cost of a normalised (``$n``) query, with and without a hypothetical index.

PG 16+: ``EXPLAIN (GENERIC_PLAN)``. Older servers: the query is prepared and planned for representative
values (the most common value, else the histogram's median, from ``pg_stats``; LIMIT 20, OFFSET 0), or
as a generic plan when a parameter has no representative value. Hypothetical indexes come from HypoPG
and live only in this session's memory: nothing is written, the connection may be read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg
from psycopg import sql

from .query_shapes import IndexCandidate

GENERIC_PLAN_VERSION = 160000
LIMIT_VALUE, OFFSET_VALUE = "20", "0"
_STATEMENT = "perfpipe_advisor_probe"


@dataclass(frozen=True)
class Plan:
    cost: float
    indexes: tuple[str, ...]  # index names the plan uses
    scan_rows: dict[str, float]  # table name -> rows its scan nodes estimate


def hypopg_installed(conn: psycopg.Connection) -> bool:
    """Whether HypoPG is created in the connected database (``CREATE EXTENSION hypopg``)."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg') AS ok").fetchone()["ok"]


def hypopg_available(conn: psycopg.Connection) -> bool:
    """Whether the server ships HypoPG at all (it may still need ``CREATE EXTENSION``)."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') AS ok").fetchone()[
        "ok"
    ]


def representative_value(conn: psycopg.Connection, schema: str, table: str, column: str) -> str | None:
    """A typical value of the column as text: its most common value, else its histogram's median."""
    row = conn.execute(
        """SELECT (most_common_vals::text::text[])[1] AS common,
                  (histogram_bounds::text::text[])[cardinality(histogram_bounds::text::text[]) / 2 + 1] AS median
             FROM pg_stats WHERE schemaname = %s AND tablename = %s AND attname = %s""",
        [schema, table, column],
    ).fetchone()
    if row is None:
        return None
    return row["common"] if row["common"] is not None else row["median"]


def parameter_values(conn: psycopg.Connection, parameters: dict, resolve) -> list[str] | None:
    """Representative values for ``$1..$n`` (``resolve(Table) -> (schema, name) | None``), or None when
    one of them has none (the caller then plans generically)."""
    if not parameters:
        return []
    values = []
    for number in range(1, max(parameters) + 1):
        role = parameters.get(number)
        if role == "limit":
            values.append(LIMIT_VALUE)
            continue
        if role == "offset":
            values.append(OFFSET_VALUE)
            continue
        if role is None:
            return None
        table, column = role
        resolved = resolve(table)
        value = representative_value(conn, *resolved, column) if resolved else None
        if value is None:
            return None
        values.append(value)
    return values


def explain(conn: psycopg.Connection, query: str, n_parameters: int, values: list[str] | None) -> Plan:
    """The plan of ``query``: generic on PG 16+ or when ``values`` is None, custom for ``values`` otherwise.

    A fresh prepared statement each time, so a plan cached before a hypothetical index exists is never reused.
    """
    if conn.info.server_version >= GENERIC_PLAN_VERSION and (values is None or n_parameters == 0):
        row = conn.execute(sql.SQL("EXPLAIN (GENERIC_PLAN, FORMAT JSON) {}").format(sql.SQL(query))).fetchone()
        return _plan(row["QUERY PLAN"])
    mode = "force_custom_plan" if values is not None else "force_generic_plan"
    arguments = values if values is not None else [None] * n_parameters
    conn.execute("SET plan_cache_mode = " + mode)
    conn.execute(sql.SQL("PREPARE {} AS {}").format(sql.Identifier(_STATEMENT), sql.SQL(query)))
    try:
        execute = sql.SQL("EXECUTE {}").format(sql.Identifier(_STATEMENT))
        if arguments:
            execute = sql.SQL("{} ({})").format(execute, sql.SQL(", ").join(map(sql.Literal, arguments)))
        row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(execute)).fetchone()
        return _plan(row["QUERY PLAN"])
    finally:
        conn.execute(sql.SQL("DEALLOCATE {}").format(sql.Identifier(_STATEMENT)))
        conn.execute("RESET plan_cache_mode")


def _plan(document) -> Plan:
    if isinstance(document, str):
        document = json.loads(document)
    root = document[0]["Plan"]
    indexes: list[str] = []
    scan_rows: dict[str, float] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if "Index Name" in node:
            indexes.append(node["Index Name"])
        if "Relation Name" in node:
            scan_rows[node["Relation Name"]] = scan_rows.get(node["Relation Name"], 0.0) + node["Plan Rows"]
        stack.extend(node.get("Plans", ()))
    return Plan(float(root["Total Cost"]), tuple(indexes), scan_rows)


def index_definition(
    conn: psycopg.Connection,
    schema: str,
    candidate: IndexCandidate,
    name: str | None = None,
    concurrently: bool = False,
) -> str:
    """``CREATE INDEX [CONCURRENTLY] [name] ON schema.table (cols [DESC])``, every identifier quoted."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} DESC").format(sql.Identifier(c)) if desc else sql.Identifier(c)
        for c, desc in zip(candidate.columns, candidate.descending, strict=False)
    )
    return (
        sql.SQL("CREATE INDEX {}{}ON {}.{} ({})")
        .format(
            sql.SQL("CONCURRENTLY ") if concurrently else sql.SQL(""),
            sql.SQL("{} ").format(sql.Identifier(name)) if name else sql.SQL(""),
            sql.Identifier(schema),
            sql.Identifier(candidate.table.name),
            columns,
        )
        .as_string(conn)
    )


def hypothetical_plan(
    conn: psycopg.Connection,
    schema: str,
    candidate: IndexCandidate,
    query: str,
    n_parameters: int,
    values: list[str] | None,
) -> tuple[Plan, str]:
    """The plan with ``candidate`` as a HypoPG index, and that index's name (dropped again afterwards)."""
    row = conn.execute(
        "SELECT indexrelid, indexname FROM hypopg_create_index(%s)", [index_definition(conn, schema, candidate)]
    ).fetchone()
    try:
        return explain(conn, query, n_parameters, values), row["indexname"]
    finally:
        conn.execute("SELECT hypopg_drop_index(%s)", [row["indexrelid"]])
