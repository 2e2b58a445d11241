"""Safe maintenance: VACUUM (ANALYZE) that skips locked tables, and index changes only on opt-in,
only for allowlisted objects, always CONCURRENTLY, cleaning up what a failed build leaves."""

from __future__ import annotations

import threading

import psycopg
import pytest

from include.perfpipe.database import apply_recommendations, inspect_database, table_stats, vacuum_analyze
from tests.integration.database.conftest import by_check

pytestmark = pytest.mark.integration

SETUP = """
CREATE TABLE a (id int PRIMARY KEY, v int);
INSERT INTO a SELECT g, g FROM generate_series(1, 1000) g;
DELETE FROM a WHERE id <= 100;
CREATE TABLE "B-mixed" (id int);
INSERT INTO "B-mixed" SELECT generate_series(1, 100);
CREATE TABLE t (id int PRIMARY KEY, label text, x int);
INSERT INTO t SELECT g, 'l' || g, g % 7 FROM generate_series(1, 2000) g;
CREATE INDEX t_label_idx ON t (label);
CREATE INDEX t_id_label_idx ON t (id, label);
CREATE TABLE twins (x int);
INSERT INTO twins VALUES (1), (1);
"""


def _indexes(dsn: str) -> dict[str, bool]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("""SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'""").fetchall()
    return dict(rows)


@pytest.fixture
def db(server):
    with server.scratch("maint", SETUP) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn, pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY twins_x_key ON twins (x)")
        yield dsn


def test_vacuum_analyze_every_table_with_progress(db):
    seen = []
    results = vacuum_analyze(db, progress=seen.append)
    assert {r["table"]: r["status"] for r in results} == {
        "public.a": "done",
        "public.B-mixed": "done",
        "public.t": "done",
        "public.twins": "done",
    }
    assert [(s["index"], s["total"]) for s in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [s["table"] for s in seen] == [r["table"] for r in results]
    stats = {r["table"]: r for r in table_stats(db)}
    assert stats["a"]["last_vacuum"] is not None and stats["a"]["dead_tuples"] == 0
    assert stats["B-mixed"]["last_analyze"] is not None


def test_locked_table_is_skipped_and_reported_not_failed(db):
    with psycopg.connect(db) as holder:
        holder.execute("LOCK TABLE a IN ACCESS EXCLUSIVE MODE")
        results = vacuum_analyze(db, tables=["a", "public.t"], lock_timeout_s=1)
        holder.rollback()
    status = {r["table"]: r for r in results}
    assert status["public.a"]["status"] == "skipped_lock"
    assert "lock not available" in status["public.a"]["message"]  # SKIP_LOCKED: not waited for
    assert status["public.t"]["status"] == "done"


def test_lock_timeout_skips_the_table_when_waiting_for_locks(db):
    """Without SKIP_LOCKED the lock is waited for, up to lock_timeout; then the table is skipped, not failed."""
    with psycopg.connect(db) as holder:
        holder.execute("LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE")  # conflicts with VACUUM's lock
        results = vacuum_analyze(db, tables=["t", "a"], lock_timeout_s=0.5, skip_locked=False)
        holder.rollback()
    assert [r["status"] for r in results] == ["skipped_lock", "done"]
    assert "lock timeout" in results[0]["message"]


def test_unknown_table_is_a_clear_error(db):
    with pytest.raises(ValueError, match=r"tables: no table 'nope'"):
        vacuum_analyze(db, tables=["nope"])


def test_no_ddl_without_opt_in_or_allowlist(db):
    found = inspect_database(
        db, {"unused_index_min_stats_days": 0}, ["unused_indexes", "duplicate_indexes", "invalid_indexes"]
    )
    before = _indexes(db)
    planned = apply_recommendations(db, found, allowlist=["public.*"], apply=False)
    refused = apply_recommendations(db, found, allowlist=["public.something_else"], apply=True)
    assert _indexes(db) == before
    assert {r["status"] for r in planned} == {"recommended"}
    assert {r["status"] for r in refused} == {"not_allowlisted"}
    assert {r["object"] for r in planned} >= {"public.t_label_idx", "public.twins_x_key"}


def test_apply_allowlisted_drop_and_clean_up_failed_reindex(db):
    found = inspect_database(db, {"unused_index_min_stats_days": 0}, ["unused_indexes", "invalid_indexes"])
    results = apply_recommendations(db, found, allowlist=["public.t_label_idx", "public.twins_x_key"], apply=True)
    status = {(r["object"], r["action"]): r for r in results}
    dropped = status[("public.t_label_idx", "drop_index")]
    assert dropped["status"] == "applied"
    assert dropped["sql"] == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."t_label_idx"'
    # twins has duplicates: REINDEX CONCURRENTLY fails and leaves twins_x_key_ccnew, which is dropped again
    reindex = status[("public.twins_x_key", "reindex_index")]
    assert reindex["status"] == "error" and "twins_x_key_ccnew" in reindex["message"]
    assert status[("public.t_id_label_idx", "drop_index")]["status"] == "not_allowlisted"
    after = _indexes(db)
    assert "t_label_idx" not in after and "t_id_label_idx" in after
    assert not [name for name in after if "_ccnew" in name]


def _suggestion(table: str, column: str, status: str = "verified") -> dict:
    name = f"{table}_{column}_idx"
    return {
        "check": "index_advice",
        "severity": "warning",
        "object": f"public.{name}",
        "recommendation": "",
        "sql": "CREATE INDEX CONCURRENTLY ...",
        "evidence": {
            "status": status,
            "index": {"schema": "public", "table": table, "columns": [column], "descending": [False], "name": name},
        },
    }


def test_create_index_concurrently_applied(db):
    unverified, verified = apply_recommendations(
        db, [_suggestion("t", "id", "unverified"), _suggestion("t", "x")], allowlist=["public.*"], apply=True
    )
    assert unverified["status"] == "manual_only" and "t_id_idx" not in _indexes(db)
    assert verified["status"] == "applied"
    assert verified["sql"] == 'CREATE INDEX CONCURRENTLY "t_x_idx" ON "public"."t" ("x")'
    assert _indexes(db)["t_x_idx"] is True


def test_failed_create_index_concurrently_leaves_no_invalid_index(db):
    """A writer's open transaction makes CREATE INDEX CONCURRENTLY time out after creating the (invalid)
    index; the cleanup drops it once the writer is gone."""
    writer = psycopg.connect(db)
    writer.execute("INSERT INTO t VALUES (100000, 'w', 1)")
    release = threading.Timer(2.0, writer.rollback)
    release.start()
    try:
        [row] = apply_recommendations(
            db, [_suggestion("t", "x")], allowlist=["public.t_x_idx"], apply=True, lock_timeout_s=0.5
        )
    finally:
        release.join()
        writer.close()
    assert row["status"] == "skipped_lock" and "t_x_idx" in row["message"]
    assert "t_x_idx" not in _indexes(db)
    assert by_check(inspect_database(db, None, ["invalid_indexes"]), "invalid_indexes").keys() == {"public.twins_x_key"}
