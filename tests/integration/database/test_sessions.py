"""Live-session checks: idle in transaction, long-running and blocked queries, with a second connection
holding the problem open while the database is inspected."""

from __future__ import annotations

import contextlib
import threading
import time

import psycopg
import pytest

from include.perfpipe.database import inspect_database
from tests.integration.database.conftest import by_check

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(server):
    with server.scratch(
        "sessions", "CREATE TABLE jobs (id int PRIMARY KEY);\nINSERT INTO jobs SELECT generate_series(1, 100);\n"
    ) as dsn:
        yield dsn


def _wait_for(dsn: str, app: str, condition: str, timeout_s: float = 10) -> int:
    """pid of the session named ``app`` once ``condition`` (SQL over pg_stat_activity) holds."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                f"SELECT pid FROM pg_stat_activity WHERE application_name = %s AND {condition}", [app]
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.05)
    raise AssertionError(f"session {app} never reached: {condition}")


def _in_thread(dsn: str, app: str, statement: str) -> threading.Thread:
    def run():
        with (
            psycopg.connect(dsn, autocommit=True, application_name=app) as conn,
            contextlib.suppress(psycopg.errors.QueryCanceled),
        ):
            conn.execute(statement)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_idle_in_transaction(db):
    with psycopg.connect(db, application_name="perfdb-idle") as idle:
        idle.execute("SELECT 1")  # opens a transaction and leaves it idle
        pid = _wait_for(db, "perfdb-idle", "state = 'idle in transaction'")
        time.sleep(0.2)
        lowered = inspect_database(
            db, {"idle_in_transaction_max_s": 0.1, "idle_in_transaction_max_count": 0}, ["idle_in_transaction"]
        )
        default = inspect_database(db, None, ["idle_in_transaction"])
    found = by_check(lowered, "idle_in_transaction")
    assert found[f"pid {pid} (perfdb-idle)"]["sql"] == f"SELECT pg_terminate_backend({pid})"
    assert db.rsplit("/", 1)[1] in found  # more sessions idle in transaction than allowed
    assert default == []


def test_long_running_query(db):
    thread = _in_thread(db, "perfdb-long", "SET statement_timeout = '4s'; SELECT pg_sleep(3)")
    pid = _wait_for(db, "perfdb-long", "state = 'active' AND query LIKE '%%pg_sleep%%'")
    time.sleep(0.3)
    lowered = inspect_database(db, {"long_running_s": 0.2}, ["long_running_queries"])
    default = inspect_database(db, None, ["long_running_queries"])
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SELECT pg_cancel_backend(%s)", [pid])
    thread.join(5)
    f = by_check(lowered, "long_running_queries")[f"pid {pid} (perfdb-long)"]
    assert "pg_sleep" in f["evidence"]["query"] and f["evidence"]["running_s"] >= 0.2
    assert default == []


def test_blocked_query_names_the_lock_and_its_holder(db):
    with psycopg.connect(db, application_name="perfdb-holder") as holder:
        holder.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        holder_pid = holder.info.backend_pid
        thread = _in_thread(db, "perfdb-waiter", "SET statement_timeout = '10s'; SELECT count(*) FROM jobs")
        pid = _wait_for(db, "perfdb-waiter", "wait_event_type = 'Lock'")
        # the other checks must not hang on the locked table either
        found = inspect_database(db, None, ["blocked_queries", "table_analysis", "unused_indexes", "table_bloat"])
        holder.rollback()
    thread.join(5)
    f = by_check(found, "blocked_queries")[f"pid {pid} (perfdb-waiter)"]
    assert f["evidence"]["relation"] == "jobs" and f["evidence"]["mode"] == "AccessShareLock"
    assert f["evidence"]["blocking_pids"] == [holder_pid]
    assert inspect_database(db, None, ["blocked_queries"]) == []
