"""Exhaustion insights: transaction ID wraparound and sequences near their limit."""

from __future__ import annotations

import psycopg
from psycopg import sql

from .connection import qualified, render
from .findings import finding

TABLES_REPORTED = 50
_TYPE_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}


def _xid_severity(age: int, cfg: dict) -> str | None:
    if age >= cfg["xid_age_critical"]:
        return "critical"
    if age >= cfg["xid_age_warning"]:
        return "warning"
    return None


def check_xid_wraparound(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Databases (server-wide) and this database's tables whose frozen XID age reached the thresholds."""
    found = []
    for r in conn.execute(
        """SELECT datname, age(datfrozenxid)::bigint AS xid_age, mxid_age(datminmxid)::bigint AS mxid_age
             FROM pg_database WHERE datallowconn ORDER BY 2 DESC"""
    ).fetchall():
        severity = _xid_severity(r["xid_age"], cfg)
        if severity:
            found.append(
                finding(
                    "xid_wraparound",
                    severity,
                    r["datname"],
                    {
                        **r,
                        "pct_of_wraparound": round(100.0 * r["xid_age"] / 2**31, 2),
                        "threshold_warning": cfg["xid_age_warning"],
                        "threshold_critical": cfg["xid_age_critical"],
                    },
                    "Freeze the oldest tables of this database now (vacuumdb --freeze, or VACUUM (FREEZE) per table) "
                    "and find what holds back autovacuum "
                    "(long transactions, prepared transactions, replication slots).",
                )
            )
    tables = conn.execute(
        """SELECT n.nspname AS schema, c.relname AS table, age(c.relfrozenxid)::bigint AS xid_age
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname !~ '^pg_toast' AND age(c.relfrozenxid) >= %s
            ORDER BY 3 DESC LIMIT %s""",
        [cfg["xid_age_warning"], TABLES_REPORTED],
    ).fetchall()
    for r in tables:
        found.append(
            finding(
                "xid_wraparound",
                _xid_severity(r["xid_age"], cfg),
                f"{r['schema']}.{r['table']}",
                {
                    "xid_age": r["xid_age"],
                    "threshold_warning": cfg["xid_age_warning"],
                    "threshold_critical": cfg["xid_age_critical"],
                },
                "Freeze this table before autovacuum's anti-wraparound vacuum is forced on it.",
                render(conn, sql.SQL("VACUUM (FREEZE, ANALYZE) {}").format(qualified(r["schema"], r["table"]))),
            )
        )
    return found


def sequence_limit(increment: int, seq_min: int, seq_max: int, column_type: str | None) -> int:
    """The value the sequence will run out at: its own bound, or the owning column type's, whichever is nearer."""
    if increment > 0:
        return min(seq_max, _TYPE_MAX.get(column_type, seq_max))
    return max(seq_min, -_TYPE_MAX.get(column_type, -seq_min) - 1)


def check_sequences(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Non-cycling sequences past ``sequence_warning_pct`` / ``sequence_critical_pct`` of their limit."""
    rows = conn.execute(
        """SELECT s.schemaname AS schema, s.sequencename AS sequence, s.last_value, s.min_value, s.max_value,
                  s.increment_by, s.data_type::text AS sequence_type,
                  tn.nspname AS table_schema, t.relname AS table, a.attname AS column,
                  format_type(a.atttypid, NULL) AS column_type
             FROM pg_sequences s
             JOIN pg_namespace sn ON sn.nspname = s.schemaname
             JOIN pg_class sc ON sc.relnamespace = sn.oid AND sc.relname = s.sequencename
             LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = sc.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
             LEFT JOIN pg_class t ON t.oid = d.refobjid
             LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
             LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE s.last_value IS NOT NULL AND NOT s.cycle"""
    ).fetchall()
    found = []
    for r in rows:
        limit = sequence_limit(r["increment_by"], r["min_value"], r["max_value"], r["column_type"])
        pct = 100.0 * r["last_value"] / limit if limit else 0.0
        if pct < cfg["sequence_warning_pct"]:
            continue
        severity = "critical" if pct >= cfg["sequence_critical_pct"] else "warning"
        statements = [sql.SQL("ALTER SEQUENCE {} AS bigint").format(qualified(r["schema"], r["sequence"]))]
        if r["table"] and r["column_type"] != "bigint":
            statements.append(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE bigint").format(
                    qualified(r["table_schema"], r["table"]), sql.Identifier(r["column"])
                )
            )
        found.append(
            finding(
                "sequence_exhaustion",
                severity,
                f"{r['schema']}.{r['sequence']}",
                {
                    "last_value": r["last_value"],
                    "limit": limit,
                    "used_pct": round(pct, 3),
                    "sequence_type": r["sequence_type"],
                    "column_type": r["column_type"],
                    "column": f"{r['table_schema']}.{r['table']}.{r['column']}" if r["table"] else None,
                    "threshold_warning_pct": cfg["sequence_warning_pct"],
                    "threshold_critical_pct": cfg["sequence_critical_pct"],
                },
                "Widen the sequence and its column to bigint before inserts start failing (ALTER TABLE ... TYPE "
                "bigint rewrites the table under an exclusive lock: plan a maintenance window or an online migration).",
                "; ".join(render(conn, s) for s in statements),
            )
        )
    return found
