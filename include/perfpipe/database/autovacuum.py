"""Autovacuum's own trigger points for a table, and tables autovacuum will not vacuum: switched off for the server
or the table, or set so high it never triggers."""

from __future__ import annotations

import psycopg
from psycopg import sql

from .connection import qualified, render
from .findings import finding

NEVER_FACTOR = 10  # a trigger point beyond 10x the table's rows is never reached in practice

# autovacuum's triggers (relation_needs_vacanalyze): trigger -> (the table's counter, base threshold, scale factor)
TRIGGERS = {
    "vacuum": ("dead_tuples", "autovacuum_vacuum_threshold", "autovacuum_vacuum_scale_factor"),
    "insert_vacuum": (
        "inserted_since_vacuum",
        "autovacuum_vacuum_insert_threshold",
        "autovacuum_vacuum_insert_scale_factor",
    ),
    "analyze": ("modified_since_analyze", "autovacuum_analyze_threshold", "autovacuum_analyze_scale_factor"),
}
MAX_THRESHOLD = "autovacuum_vacuum_max_threshold"  # PostgreSQL 18+: caps the dead-tuple trigger
TRIGGER_SETTINGS = (
    "autovacuum",
    "track_counts",
    MAX_THRESHOLD,
    *(name for _, base, scale in TRIGGERS.values() for name in (base, scale)),
)
_COUNTER_WORDS = {
    "dead_tuples": "dead tuples",
    "inserted_since_vacuum": "rows inserted since the last vacuum",
    "modified_since_analyze": "rows changed since the last analyze",
}


def server_settings(conn: psycopg.Connection) -> dict[str, str]:
    """The autovacuum settings of the server (names absent on older versions are left out)."""
    rows = conn.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(TRIGGER_SETTINGS)])
    return {r["name"]: r["setting"] for r in rows.fetchall()}


def _value(name: str, options: dict[str, str], settings: dict[str, str]) -> tuple[float, str]:
    if name in options:
        return float(options[name]), "table"
    return float(settings[name]), "server"


def crossed_triggers(counts: dict, rows: float, options: dict[str, str], settings: dict[str, str]) -> list[dict]:
    """The autovacuum triggers this table is past, as autovacuum computes them: ``threshold + scale_factor x
    reltuples`` (the table's reloptions first, then the server's), the dead-tuple one capped by
    ``autovacuum_vacuum_max_threshold`` on PostgreSQL 18, a negative insert threshold switching that one off.

    ``counts``: dead_tuples, inserted_since_vacuum, modified_since_analyze; ``rows``: pg_class.reltuples
    (-1, never vacuumed or analyzed, counts as 0, as autovacuum takes it).
    """
    rows = max(rows, 0.0)
    crossed = []
    for trigger, (counter, base_name, scale_name) in TRIGGERS.items():
        if base_name not in settings and base_name not in options:
            continue
        base, base_from = _value(base_name, options, settings)
        if base < 0:
            continue
        scale, scale_from = _value(scale_name, options, settings)
        threshold = base + scale * rows
        cap = None
        if trigger == "vacuum" and (MAX_THRESHOLD in options or MAX_THRESHOLD in settings):
            cap, _ = _value(MAX_THRESHOLD, options, settings)
            cap = cap if 0 <= cap < threshold else None
        count = counts.get(counter) or 0
        if count > (threshold if cap is None else cap):
            crossed.append(
                {
                    "trigger": trigger,
                    "counter": counter,
                    "count": count,
                    "threshold": round(threshold if cap is None else cap, 1),
                    "rows": rows,
                    base_name: base,
                    scale_name: scale,
                    "from": {base_name: base_from, scale_name: scale_from},
                    "capped_by": None if cap is None else MAX_THRESHOLD,
                }
            )
    return crossed


def describe_trigger(t: dict) -> str:
    """``50 dead tuples > 30 = autovacuum_vacuum_threshold 10 (table) + autovacuum_vacuum_scale_factor 0.2 x 100
    rows``: which trigger was crossed, by how much, and where its numbers come from."""
    _, base_name, scale_name = TRIGGERS[t["trigger"]]
    text = f"{t['count']:,.0f} {_COUNTER_WORDS[t['counter']]} > {t['threshold']:,.0f}"
    if t["capped_by"]:
        return f"{text} ({t['capped_by']})"
    return (
        f"{text} = {base_name} {t[base_name]:g} ({t['from'][base_name]}) + {scale_name} {t[scale_name]:g} "
        f"({t['from'][scale_name]}) x {t['rows']:,.0f} rows"
    )


_TABLES = """
SELECT n.nspname AS schema, c.relname AS table, c.reltuples::float8 AS reltuples,
       greatest(c.reltuples, 0)::float8 AS rows,
       coalesce(c.reloptions, '{}') AS options, coalesce(toast.reloptions, '{}') AS toast_options,
       coalesce(s.n_dead_tup, 0) AS dead_tuples, coalesce(s.n_ins_since_vacuum, 0) AS inserted_since_vacuum,
       coalesce(s.n_mod_since_analyze, 0) AS modified_since_analyze
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
 WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname !~ '^pg_toast'
 ORDER BY n.nspname, c.relname
"""


def table_inputs(conn: psycopg.Connection) -> list[dict]:
    """Per table (partitioned parents, which autovacuum never processes, left out): reltuples, reloptions
    and the counters autovacuum compares with its triggers."""
    return conn.execute(_TABLES).fetchall()


def options_of(entries: list[str]) -> dict[str, str]:
    return dict(e.split("=", 1) for e in entries if "=" in e)


def _disabled(options: dict[str, str]) -> bool:
    return options.get("autovacuum_enabled", "true").lower() in ("false", "off", "0", "no")


def why_not_processed(options: dict[str, str], settings: dict[str, str]) -> str | None:
    """Why autovacuum will never process this table past a trigger (None: it will, within its naptime)."""
    for name in ("autovacuum", "track_counts"):
        if settings.get(name) == "off":
            return f"{name} = off"
    return "autovacuum_enabled = false" if _disabled(options) else None


def blocking_settings(options: dict[str, str], toast: dict[str, str], rows: float, defaults: dict) -> list[str]:
    """What keeps autovacuum from this table, in words (empty: nothing)."""
    reasons = []
    if _disabled(options):
        reasons.append("autovacuum_enabled = false")
    if _disabled(toast):
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
    or put its trigger out of reach. A table's finding is a warning when it holds dead tuples (the figure),
    info when it costs nothing yet; the server's is always a warning: it stops cleanup of every table."""
    settings = server_settings(conn)
    tables = table_inputs(conn)
    found = []
    server_off = [name for name in ("autovacuum", "track_counts") if settings.get(name) == "off"]
    if server_off:
        past = [
            f"{t['schema']}.{t['table']}"
            for t in tables
            if crossed_triggers(t, t["reltuples"], options_of(t["options"]), settings)
        ]
        dead = sum(t["dead_tuples"] for t in tables)
        found.append(
            finding(
                "autovacuum_blocked",
                "warning",
                "server",
                {
                    "settings": {n: "off" for n in server_off},
                    "dead_tuples": dead,
                    "tables_past_a_trigger": past,
                },
                f"Autovacuum does not run (only anti-wraparound vacuums do): {dead:,} dead tuples wait in this "
                f"database and {len(past)} table(s) are past a trigger autovacuum would act on; every table "
                "written from now on piles up dead rows and stale statistics. Turn it back on.",
                "; ".join(
                    render(conn, sql.SQL("ALTER SYSTEM SET {} = on").format(sql.Identifier(n))) for n in server_off
                ),
            )
        )
    for t in tables:
        reasons = blocking_settings(options_of(t["options"]), options_of(t["toast_options"]), t["rows"], settings)
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
        costs = t["dead_tuples"] > 0
        found.append(
            finding(
                "autovacuum_blocked",
                "warning" if costs else "info",
                f"{t['schema']}.{t['table']}",
                {
                    "reasons": reasons,
                    "options": list(t["options"]),
                    "toast_options": list(t["toast_options"]),
                    "rows": t["rows"],
                    "dead_tuples": t["dead_tuples"],
                    "threshold_factor": NEVER_FACTOR,
                },
                "Autovacuum will not vacuum this table (only anti-wraparound vacuums will): "
                + (
                    f"{t['dead_tuples']:,} dead tuples already wait; "
                    if costs
                    else "no dead tuples yet, but every update and delete will leave them; "
                )
                + "the visibility map goes stale too. Reset the storage parameters, or vacuum it on a schedule "
                "of your own.",
                "; ".join(render(conn, s) for s in statements) or None,
            )
        )
    return found
