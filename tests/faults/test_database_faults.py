"""Fault matrix rows 9, 12 and 15 on the real PostgreSQL: a held or queued lock, hostile object names,
and a schema change nobody opted into. One scratch database for the module, dropped at its end."""

import contextlib
import threading
import time

import pglast
import psycopg
import pytest
from psycopg import sql

from include.perfpipe.database import apply_recommendations, inspect_database, table_stats, vacuum_analyze

pytestmark = pytest.mark.integration
# each would break SQL pasted together: quotes, a statement separator, psycopg's placeholder, format braces
HOSTILE = ['we"ird; DROP TABLE canary; --', "it's %s {0} ünïcødé 表", "dotted.name"]
HOSTILE_SCHEMA = 'sch"ema; --'


@pytest.fixture(scope="module")
def db(scratch_db, db_server_url):
    url = scratch_db("perfpipe_faults_db")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE canary (id int)")
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(HOSTILE_SCHEMA)))
        for schema in ("public", HOSTILE_SCHEMA):
            for name in HOSTILE:
                table = sql.Identifier(schema, name)
                conn.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, v text)").format(table))
                conn.execute(sql.SQL("INSERT INTO {} SELECT g, 'x' FROM generate_series(1, 200) g").format(table))
                conn.execute(sql.SQL("DELETE FROM {} WHERE id % 2 = 0").format(table))  # dead tuples to vacuum
                for copy in ("a", "b"):  # a duplicate index: a DROP INDEX finding
                    index = sql.Identifier(f"{name[:20]} {copy}")
                    conn.execute(sql.SQL("CREATE INDEX {} ON {} (v)").format(index, table))
    yield url
    with psycopg.connect(db_server_url, autocommit=True) as admin:
        name = url.rsplit("/", 1)[1]
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _indexes(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return set(conn.execute("SELECT schemaname, indexname FROM pg_indexes WHERE indexname LIKE '% _'"))


def test_hostile_names_are_inspected_and_vacuumed_as_identifiers(db):
    """Row 12: every hostile table is vacuumed (status done), found by inspection and table_stats under its
    exact name, and the canary a pasted ``DROP TABLE canary`` would remove is still there."""
    names = {f"{schema}.{name}" for schema in ("public", HOSTILE_SCHEMA) for name in HOSTILE}
    results = {r["table"]: r for r in vacuum_analyze(db)}
    assert names <= set(results) and all(results[n]["status"] == "done" for n in names), results
    stats = {f"{t['schema']}.{t['table']}" for t in table_stats(db)}
    assert names <= stats
    findings = inspect_database(db)
    duplicates = [f for f in findings if f["check"] == "duplicate_indexes"]
    assert len(duplicates) == 2 * len(HOSTILE), [f["object"] for f in findings]
    for finding in duplicates:  # the SQL a finding offers is one statement naming an index of ours
        (statement,) = pglast.parse_sql(finding["sql"])
        (target,) = statement.stmt.objects
        assert target[-1].sval in {f"{name[:20]} {copy}" for name in HOSTILE for copy in "ab"}, finding["sql"]
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM canary").fetchone() == (0,)


def test_schema_changes_run_only_when_opted_in_and_allowlisted(db):
    """Row 15: index changes the findings recommend are never executed without ``apply`` and the
    object in the allowlist; with both, they are (so the two refusals are not a change that never works)."""
    findings = [f for f in inspect_database(db) if f["check"] == "duplicate_indexes"]
    before = _indexes(db)
    assert len(before) == 4 * len(HOSTILE)
    advice = apply_recommendations(db, findings, allowlist=["*"], apply=False)
    assert {r["status"] for r in advice} == {"recommended"} and _indexes(db) == before
    refused = apply_recommendations(db, findings, allowlist=["public.canary"], apply=True)
    assert {r["status"] for r in refused} == {"not_allowlisted"} and _indexes(db) == before
    target = findings[0]
    applied = apply_recommendations(db, [target], allowlist=[target["object"]], apply=True)
    assert [r["status"] for r in applied] == ["applied"] and len(_indexes(db)) == len(before) - 1


@pytest.fixture
def locked(db):
    """``public.<first hostile>`` under an ACCESS EXCLUSIVE lock held in an open transaction; ``"queued"``
    adds the case of a reader holding ACCESS SHARE with an ALTER TABLE queued behind it."""
    table = sql.Identifier("public", HOSTILE[0])
    holders: list[psycopg.Connection] = []

    def hold(kind: str) -> None:
        first = psycopg.connect(db)
        holders.append(first)
        if kind == "held":
            first.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
            return
        first.execute(sql.SQL("SELECT count(*) FROM {}").format(table))  # ACCESS SHARE until rollback
        waiter = psycopg.connect(db, autocommit=True)
        holders.append(waiter)
        threading.Thread(
            target=lambda: _quietly(waiter, sql.SQL("ALTER TABLE {} ADD COLUMN w int").format(table)), daemon=True
        ).start()
        time.sleep(0.5)  # the ALTER is queued behind the reader

    yield hold
    for conn in holders:
        conn.cancel_safe() if hasattr(conn, "cancel_safe") else conn.cancel()
        conn.close()


def _quietly(conn, statement) -> None:
    with contextlib.suppress(psycopg.Error):  # cancelled at teardown
        conn.execute(statement)


@pytest.mark.parametrize("kind", ["held", "queued"])
def test_vacuum_skips_a_locked_table_with_the_reason_and_goes_on(db, locked, kind):
    """Row 9 (VACUUM): a table whose lock is held, or queued for, is skipped with the lock as the reason
    within the lock_timeout; every other table is still vacuumed."""
    locked(kind)
    started = time.monotonic()
    results = {r["table"]: r for r in vacuum_analyze(db, lock_timeout_s=1)}
    assert time.monotonic() - started < 15
    blocked = results[f"public.{HOSTILE[0]}"]
    assert blocked["status"] == "skipped_lock" and "lock" in blocked["message"], blocked
    others = [r for name, r in results.items() if name != f"public.{HOSTILE[0]}"]
    assert others and all(r["status"] == "done" for r in others), others


@pytest.mark.parametrize("kind", ["held", "queued"])
def test_table_stats_behind_a_lock_returns_after_the_lock_timeout(db, locked, kind):
    """Row 9 (table_stats): size queries behind a held or queued ACCESS EXCLUSIVE lock give up after the
    lock_timeout, report that table as skipped with the reason, and return every other table."""
    locked(kind)
    stats: list = []
    thread = threading.Thread(target=lambda: stats.append(table_stats(db)), daemon=True)
    thread.start()
    thread.join(12)
    assert not thread.is_alive(), "table_stats still waits on the lock after 12 s"
    (rows,) = stats
    names = {f"{t['schema']}.{t['table']}": t for t in rows}
    assert len(names) >= 2 * len(HOSTILE)  # the other tables are there
    blocked = names[f"public.{HOSTILE[0]}"]
    assert blocked["total_bytes"] is None  # unknown, never waited for
    if kind == "queued":  # the held lock is seen in pg_locks and never even tried
        assert "lock" in blocked["size_skipped"], blocked
    assert all(t["total_bytes"] is not None for name, t in names.items() if name != f"public.{HOSTILE[0]}")
