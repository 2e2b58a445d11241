"""Tables autovacuum will not vacuum: switched off for the server or the table, or set so high it never triggers."""

from __future__ import annotations

import psycopg
from psycopg import sql

from .connection import qualified, render
from .findings import finding

NEVER_FACTOR = 10  # a trigger point beyond 10x the table's rows is never reached in practice

_TABLES = """
SELECT n.nspname AS schema, c.relname AS table, greatest(c.reltuples, 0)::float8 AS rows,
       coalesce(c.reloptions, '{}') AS options, coalesce(toast.reloptions, '{}') AS toast_options
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
 WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname !~ '^pg_toast'
 ORDER BY n.nspname, c.relname
"""


def _options(entries: list[str]) -> dict[str, str]:
    return dict(e.split("=", 1) for e in entries if "=" in e)


def blocking_settings(options: dict[str, str], toast: dict[str, str], rows: float, defaults: dict) -> list[str]:
    """What keeps autovacuum from this table, in words (empty: nothing)."""
    reasons = []
    if options.get("autovacuum_enabled", "true").lower() in ("false", "off", "0", "no"):
        reasons.append("autovacuum_enabled = false")
    if toast.get("autovacuum_enabled", "true").lower() in ("false", "off", "0", "no"):
        reasons.append("toast.autovacuum_enabled = false")
    threshold = float(options.get("autovacuum_vacuum_threshold", defaults["autovacuum_vacuum_threshold"]))
    scale = float(options.get("autovacuum_vacuum_scale_factor", defaults["autovacuum_vacuum_scale_factor"]))
    trigger = threshold + scale * rows
    if trigger > NEVER_FACTOR * max(rows, 1000.0):
        reasons.append(
            f"vacuum triggers only after {trigger:,.0f} dead rows "
            f"(threshold {threshold:g} + scale factor {scale:g} x {rows:,.0f} rows)"
        )
    return reasons


def check_autovacuum_blocked(conn: psycopg.Connection, cfg: dict) -> list[dict]:
    """Autovacuum off for the server (or its statistics off), and tables whose own settings switch it off
    or put its trigger out of reach."""
    settings = {
        r["name"]: r["setting"]
        for r in conn.execute(
            """SELECT name, setting FROM pg_settings WHERE name IN
           ('autovacuum', 'track_counts', 'autovacuum_vacuum_threshold', 'autovacuum_vacuum_scale_factor')"""
        ).fetchall()
    }
    found = []
    server_off = [name for name in ("autovacuum", "track_counts") if settings.get(name) == "off"]
    if server_off:
        found.append(
            finding(
                "autovacuum_blocked",
                "warning",
                "server",
                {"settings": {n: "off" for n in server_off}},
                "Autovacuum does not run (only anti-wraparound vacuums do): dead rows pile up and statistics go "
                "stale. Turn it back on.",
                "; ".join(
                    render(conn, sql.SQL("ALTER SYSTEM SET {} = on").format(sql.Identifier(n))) for n in server_off
                ),
            )
        )
    for t in conn.execute(_TABLES).fetchall():
        reasons = blocking_settings(_options(t["options"]), _options(t["toast_options"]), t["rows"], settings)
        if not reasons:
            continue
        resets = [
            o.split("=", 1)[0]
            for o in t["options"]
            if o.split("=", 1)[0].startswith("autovacuum_vacuum") or o.startswith("autovacuum_enabled")
        ]
        statements = []
        if resets:
            statements.append(
                sql.SQL("ALTER TABLE {} RESET ({})").format(
                    qualified(t["schema"], t["table"]), sql.SQL(", ").join(map(sql.SQL, resets))
                )
            )
        if any(o.startswith("autovacuum_enabled") for o in t["toast_options"]):
            statements.append(
                sql.SQL("ALTER TABLE {} RESET (toast.autovacuum_enabled)").format(qualified(t["schema"], t["table"]))
            )
        found.append(
            finding(
                "autovacuum_blocked",
                "warning",
                f"{t['schema']}.{t['table']}",
                {
                    "reasons": reasons,
                    "options": list(t["options"]),
                    "toast_options": list(t["toast_options"]),
                    "rows": t["rows"],
                    "threshold_factor": NEVER_FACTOR,
                },
                "Autovacuum will not vacuum this table (only anti-wraparound vacuums will): dead rows accumulate and "
                "the visibility map goes stale. Reset the storage parameters, or vacuum it on a schedule of your own.",
                "; ".join(render(conn, s) for s in statements) or None,
            )
        )
    return found
