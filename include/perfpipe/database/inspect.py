"""``inspect_database``: run every insight check against one database and collect the findings."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from include.perfpipe.errors import ConfigError

from . import activity, autovacuum, bloat, foreign_keys, index_advisor, indexes, statements, tables, wraparound
from .config import load_config
from .connection import connect
from .findings import finding, severity_rank

log = logging.getLogger(__name__)

CHECKS = {
    "table_analysis": tables.check_stale_maintenance,
    "seq_scans": tables.check_seq_scans,
    "index_advice": index_advisor.check_index_advice,
    "fk_without_index": foreign_keys.check_foreign_keys,
    "slow_queries": statements.check_slow_queries,
    "unused_indexes": indexes.check_unused_indexes,
    "duplicate_indexes": indexes.check_duplicate_indexes,
    "invalid_indexes": indexes.check_invalid_indexes,
    "useless_indexes": indexes.check_useless_indexes,
    "autovacuum_blocked": autovacuum.check_autovacuum_blocked,
    "cache_hit_rate": tables.check_cache_hit_rate,
    "connections": activity.check_connections,
    "idle_in_transaction": activity.check_idle_in_transaction,
    "long_running_queries": activity.check_long_running,
    "blocked_queries": activity.check_blocked,
    "xid_wraparound": wraparound.check_xid_wraparound,
    "sequence_exhaustion": wraparound.check_sequences,
    "table_bloat": bloat.check_table_bloat,
    "index_bloat": bloat.check_index_bloat,
}
INSPECT_LOCK_TIMEOUT = "2s"
INSPECT_STATEMENT_TIMEOUT = "60s"


def run_checks(conn: psycopg.Connection, cfg: dict, checks: list[str] | None = None) -> list[dict]:
    """Findings of the named checks (all by default), most severe first. A check that cannot run (e.g. no
    privilege) yields one ``info`` finding saying why instead of failing the others."""
    names = list(CHECKS) if checks is None else checks
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ConfigError(f"checks: unknown check(s) {unknown} (known: {', '.join(CHECKS)})")
    found = []
    for name in names:
        try:
            found.extend(CHECKS[name](conn, cfg))
        except (
            psycopg.errors.QueryCanceled,
            psycopg.errors.LockNotAvailable,
            psycopg.errors.InsufficientPrivilege,
        ) as exc:  # statement/lock timeout, missing privilege
            found.append(_not_run(name, conn, exc))
        log.debug("check %s done", name)
    found.sort(key=lambda f: severity_rank(f["severity"]))
    return found


def _not_run(name: str, conn: psycopg.Connection, exc: psycopg.Error) -> dict:
    log.warning("check %s could not run: %s", name, exc)
    return finding(
        name,
        "info",
        conn.info.dbname,
        {"error": str(exc).strip(), "sqlstate": exc.sqlstate},
        f"The {name} check could not run; grant pg_monitor to the inspecting role or retry.",
    )


def inspect_database(dsn: str, config: dict | str | Path | None = None, checks: list[str] | None = None) -> list[dict]:
    """All findings ``{check, severity, object, evidence, recommendation, sql}`` for the DSN's database.

    ``config``: threshold overrides (dict or YAML path, see ``config.DEFAULT_THRESHOLDS``).
    Read-only: runs catalog and statistics queries under a short lock_timeout, never DDL.
    """
    cfg = load_config(config)
    with connect(dsn) as conn:
        conn.execute(f"SET lock_timeout = '{INSPECT_LOCK_TIMEOUT}'")
        conn.execute(f"SET statement_timeout = '{INSPECT_STATEMENT_TIMEOUT}'")
        conn.execute("SET default_transaction_read_only = on")
        return run_checks(conn, cfg, checks)
