"""Safe maintenance: VACUUM (ANALYZE) table by table, and opt-in, allowlisted, online index changes.

VACUUM runs on an autocommit connection with SKIP_LOCKED plus a per-table lock_timeout and
statement_timeout: a table whose lock is taken is skipped and reported, never failing the run.
Schema changes (CREATE INDEX / DROP INDEX / REINDEX, always CONCURRENTLY) only run when ``apply`` is true
AND the object is allowlisted; an invalid index left behind by a failed attempt is dropped again.
Given the task's ``Budget``, each statement's timeout fits in what is left of it, and a statement that no
longer fits is not started (``skipped_budget``); a statement interrupted by the task's end is cancelled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import psycopg
from psycopg import errors, sql

from include.perfpipe.errors import ConfigError

from .budget import Budget
from .connection import cancelled_when_interrupted, connect, qualified

log = logging.getLogger(__name__)

LOCK_NOT_AVAILABLE = "55P03"
CLEANUP_LOCK_TIMEOUT_S = 30
CLEANUP_TIMEOUT_S = CLEANUP_LOCK_TIMEOUT_S * 2  # dropping a failed build's INVALID index: kept free in a budget
VACUUM_TIMEOUT_S = 300  # one table
INDEX_BUILD_TIMEOUT_S = 900  # one CONCURRENTLY index change


def _set_timeouts(conn: psycopg.Connection, lock_timeout_s: float, statement_timeout_s: float | None) -> None:
    conn.execute(
        "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
        [f"{int(lock_timeout_s * 1000)}ms", f"{int((statement_timeout_s or 0) * 1000)}ms"],
    )


def _resolve_tables(conn: psycopg.Connection, tables: Iterable[str] | None) -> list[tuple[str, str]]:
    if tables is None:
        rows = conn.execute("SELECT schemaname, relname FROM pg_stat_user_tables ORDER BY 1, 2").fetchall()
        return [(r["schemaname"], r["relname"]) for r in rows]
    if isinstance(tables, str):
        raise ConfigError(f"tables: expected a list of table names, got the string {tables!r}")
    resolved = []
    for name in tables:
        row = conn.execute(
            """SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'm', 'p')""",
            [name],
        ).fetchone()
        if row is None:
            raise ConfigError(f"tables: no table {name!r} in database {conn.info.dbname!r}")
        resolved.append((row["nspname"], row["relname"]))
    return resolved


def vacuum_analyze(
    dsn: str,
    tables: list[str] | None = None,
    lock_timeout_s: float = 5,
    statement_timeout_s: float | None = VACUUM_TIMEOUT_S,
    progress: Callable[[dict], None] | None = None,
    skip_locked: bool = True,
    budget: Budget | None = None,
) -> list[dict]:
    """``VACUUM (ANALYZE, SKIP_LOCKED)`` each table (all user tables by default), one at a time.

    With ``skip_locked=False`` a held lock is waited for up to ``lock_timeout_s`` before the table is skipped.
    Each VACUUM runs at most ``statement_timeout_s``, and within what is left of ``budget``.
    Returns one ``{table, action, status, seconds, message}`` per table; status is ``done``,
    ``skipped_lock`` (lock held elsewhere), ``skipped_budget`` (the budget was spent) or ``error`` (e.g.
    statement_timeout reached).
    ``progress`` gets each result plus ``index`` and ``total`` after its table (a logger's ``info`` works);
    progress is logged too.
    """
    if lock_timeout_s <= 0:
        raise ConfigError(f"lock_timeout_s: must be > 0, got {lock_timeout_s!r}")
    if statement_timeout_s is not None and statement_timeout_s < 0:
        raise ConfigError(f"statement_timeout_s: must be >= 0 or None, got {statement_timeout_s!r}")
    notices: list[tuple[str | None, str | None]] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:  # diag is only valid during the call
        notices.append((diag.sqlstate, diag.message_primary))

    results = []
    conn = connect(dsn)
    try:
        conn.add_notice_handler(on_notice)
        targets = _resolve_tables(conn, tables)
        statement = sql.SQL("VACUUM (ANALYZE, SKIP_LOCKED) {}" if skip_locked else "VACUUM (ANALYZE) {}")
        for index, (schema, table) in enumerate(targets, 1):
            notices.clear()
            started = time.monotonic()
            status, message = "done", ""
            timeout_s = budget.statement_timeout(statement_timeout_s) if budget else statement_timeout_s
            try:
                if budget and timeout_s is None:
                    status, message = "skipped_budget", budget.spent("VACUUM")
                else:
                    _set_timeouts(conn, lock_timeout_s, timeout_s)
                    with cancelled_when_interrupted(conn):
                        conn.execute(statement.format(qualified(schema, table)))
                    skipped = [message for sqlstate, message in notices if sqlstate == LOCK_NOT_AVAILABLE]
                    if skipped:
                        status, message = "skipped_lock", "; ".join(skipped)
            except errors.LockNotAvailable as exc:
                status, message = "skipped_lock", str(exc).strip()
            except errors.QueryCanceled as exc:
                status, message = "error", f"statement_timeout ({timeout_s:g}s) reached: {str(exc).strip()}"
            except psycopg.OperationalError as exc:
                status, message = "error", str(exc).strip()
                if conn.closed:
                    conn = connect(dsn)
                    conn.add_notice_handler(on_notice)
            except psycopg.Error as exc:
                status, message = "error", str(exc).strip()
            result = {
                "table": f"{schema}.{table}",
                "action": "vacuum_analyze",
                "status": status,
                "seconds": round(time.monotonic() - started, 3),
                "message": message,
            }
            results.append(result)
            log.info(
                "vacuum_analyze %d/%d %s: %s (%.2fs) %s",
                index,
                len(targets),
                result["table"],
                status,
                result["seconds"],
                message,
            )
            if progress:
                progress({**result, "index": index, "total": len(targets)})
    finally:
        conn.close()
    return results


CREATE_INDEX_CHECKS = ("index_advice", "fk_without_index")
# check -> how its finding is applied online; everything else is advice for a human
_INDEX_ACTIONS = {
    "unused_indexes": "drop_index",
    "duplicate_indexes": "drop_index",
    "index_bloat": "reindex_index",
}


def planned_action(f: dict) -> str | None:
    """The online action that applies ``f`` (drop_index, reindex_index, create_index), or None if manual."""
    if f["check"] == "invalid_indexes":
        return "drop_index" if (f["sql"] or "").startswith("DROP") else "reindex_index"
    if f["check"] in CREATE_INDEX_CHECKS:  # only what the planner verified is applied; the rest is advice
        return "create_index" if f["evidence"].get("status") == "verified" else None
    return _INDEX_ACTIONS.get(f["check"])


def _statement(action: str, f: dict) -> sql.Composed:
    ev = f["evidence"]
    if action == "create_index":
        s = ev["index"]
        columns = [
            sql.SQL("{} DESC").format(sql.Identifier(c)) if desc else sql.Identifier(c)
            for c, desc in zip(s["columns"], s.get("descending") or [False] * len(s["columns"]), strict=False)
        ]
        return sql.SQL("CREATE INDEX CONCURRENTLY {} ON {} ({})").format(
            sql.Identifier(s["name"]), qualified(s["schema"], s["table"]), sql.SQL(", ").join(columns)
        )
    target = qualified(ev["schema"], ev["index"])
    if action == "drop_index":
        return sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(target)
    return sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(target)


def allowed(f: dict, allowlist: Iterable[str]) -> bool:
    """Whether the index change of finding ``f`` is allowlisted. An entry is a table's qualified name
    (``public.orders``: every index change on that table), an index's (``public.orders_total_idx``: that one),
    or ``schema.*`` (every table of the schema). Names match exactly: ``public.orders`` is not
    ``public.orders_history``, whose indexes a glob such as ``public.orders*`` also matched."""
    ev = f.get("evidence") or {}
    index = ev["index"] if isinstance(ev.get("index"), dict) else {}
    schema = index.get("schema") or ev.get("schema")
    names = {f["object"], ev.get("table")} - {None}
    return any(entry in names or (entry.endswith(".*") and entry[:-2] == schema) for entry in allowlist)


def check_apply_allowlist(allowlist: Iterable[str]) -> list[str]:
    """The entries, each ``schema.name`` or ``schema.*``; any other wildcard is refused (``ConfigError``)."""
    entries = list(allowlist)
    for entry in entries:
        if any(c in (entry[:-2] if entry.endswith(".*") else entry) for c in "*?[") or "." not in entry:
            raise ConfigError(
                f"perfpipe_db_apply_allowlist: {entry!r}: an entry is a qualified table or index name "
                "(public.orders, matched exactly) or schema.* (every table of the schema)"
            )
    return entries


def _drop_invalid_leftovers(conn: psycopg.Connection, action: str, f: dict) -> list[str]:
    """Drop the invalid index a failed CONCURRENTLY build left: the new index, or REINDEX's ``*_ccnew``."""
    ev = f["evidence"]
    if action == "create_index":
        schema, exact, prefix = ev["index"]["schema"], ev["index"]["name"], None
    elif action == "reindex_index":
        schema, exact, prefix = ev["schema"], None, ev["index"] + "_ccnew"
    else:
        return []
    like = None if prefix is None else prefix.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    rows = conn.execute(
        """SELECT n.nspname, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT i.indisvalid AND n.nspname = %s AND (c.relname = %s OR c.relname LIKE %s)""",
        [schema, exact, like],
    ).fetchall()
    dropped = []
    _set_timeouts(conn, CLEANUP_LOCK_TIMEOUT_S, CLEANUP_TIMEOUT_S)
    for r in rows:
        name = f"{r['nspname']}.{r['relname']}"
        drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(qualified(r["nspname"], r["relname"]))
        try:
            with cancelled_when_interrupted(conn):
                conn.execute(drop)
            dropped.append(name)
        except psycopg.Error as exc:
            dropped.append(f"{name} NOT dropped ({str(exc).strip()}): drop it by hand")
    return dropped


def apply_recommendations(
    dsn: str,
    findings: list[dict],
    allowlist: Iterable[str] = (),
    apply: bool = False,
    lock_timeout_s: float = 5,
    statement_timeout_s: float | None = INDEX_BUILD_TIMEOUT_S,
    budget: Budget | None = None,
) -> list[dict]:
    """Plan, and with ``apply=True`` run, the online index changes the findings recommend.

    Each change waits at most ``lock_timeout_s`` for its lock and runs at most ``statement_timeout_s``, and
    within what is left of ``budget`` with room kept for the cleanup after it; an INVALID index a killed or
    failed build left under the same name is dropped before the build and after a failure, so a retry never
    leaves one behind.

    One row per finding with ready SQL: ``{check, object, action, sql, status, seconds, message}``, status
    ``recommended`` (apply is false), ``not_allowlisted``, ``manual_only`` (not an online index change: left
    to a human), ``applied``, ``skipped_lock``, ``skipped_budget`` (not started: the budget was spent),
    ``error`` or ``already_done`` (same change listed twice).
    """
    allowlist = [allowlist] if isinstance(allowlist, str) else list(allowlist or ())
    if apply:
        check_apply_allowlist(allowlist)
    for i, f in enumerate(findings):
        if not isinstance(f, dict) or not {"check", "object", "evidence", "sql"} <= set(f):
            raise ConfigError(f"findings[{i}]: expected a finding with check, object, evidence and sql, got {f!r}")
    results, done = [], set()
    conn = connect(dsn)
    try:
        for f in findings:
            if not f.get("sql"):
                continue
            action = planned_action(f)
            row = {
                "check": f["check"],
                "object": f["object"],
                "action": action or "manual",
                "sql": f["sql"],
                "status": "recommended",
                "seconds": 0.0,
                "message": "",
            }
            results.append(row)
            if action is None:
                row["status"] = "manual_only"
                continue
            statement = _statement(action, f)
            row["sql"] = statement.as_string(conn)
            if not apply:
                continue
            if not allowed(f, allowlist):
                row["status"], row["message"] = "not_allowlisted", "object is not in the allowlist"
                continue
            if (action, f["object"]) in done:
                row["status"] = "already_done"
                continue
            if budget and budget.statement_timeout(None, reserve=2 * CLEANUP_TIMEOUT_S) is None:
                row["status"], row["message"] = "skipped_budget", budget.spent("the index change")
                continue
            started = time.monotonic()
            try:
                if leftovers := _drop_invalid_leftovers(conn, action, f):
                    row["message"] = f"invalid index of an earlier build dropped: {', '.join(leftovers)}; "
                timeout_s = (
                    budget.statement_timeout(statement_timeout_s, reserve=CLEANUP_TIMEOUT_S)
                    if budget
                    else statement_timeout_s
                )
                if budget and timeout_s is None:
                    row["status"] = "skipped_budget"
                    row["message"] += budget.spent("the index change")
                else:
                    _set_timeouts(conn, lock_timeout_s, timeout_s)
                    with cancelled_when_interrupted(conn):
                        conn.execute(statement)
                    row["status"] = "applied"
                    done.add((action, f["object"]))
            except psycopg.Error as exc:
                if conn.closed:
                    conn = connect(dsn)
                row["status"] = "skipped_lock" if isinstance(exc, errors.LockNotAvailable) else "error"
                row["message"] += str(exc).strip()
                dropped = _drop_invalid_leftovers(conn, action, f)
                if dropped:
                    row["message"] += f"; invalid leftover index cleanup: {', '.join(dropped)}"
            row["seconds"], row["message"] = round(time.monotonic() - started, 3), row["message"].strip("; ")
            log.info("apply %s %s: %s %s", action, f["object"], row["status"], row["message"])
    finally:
        conn.close()
    return results
