"""Fault matrix row 23 on the real PostgreSQL: a DB task ended in the middle of a VACUUM leaves no backend.

The VACUUM waits for a lock the test holds (so it could never end by itself while the test looks), and the
process running it is ended as Airflow ends a task: SIGKILL (the supervisor's last step), or the task's
``execution_timeout`` raising into it. Also: a statement interrupted by any exception is cancelled, and a
task's budget bounds its statements and skips what no longer fits.
"""

import signal
import subprocess
import sys
import time

import psycopg
import pytest

from include.perfpipe.database import Budget, apply_recommendations, vacuum_analyze
from include.perfpipe.database.connection import cancelled_when_interrupted, connect
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
VACUUMS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'VACUUM%'"


@pytest.fixture(scope="module")
def db(scratch_db):
    url = scratch_db("perfpipe_faults_killed")
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("blocked", "after"):
            conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, customer int)")
            conn.execute(f"INSERT INTO {table} SELECT g, g % 97 FROM generate_series(1, 1000) g")
    return url


@pytest.fixture
def lock_held(db):
    """An ACCESS EXCLUSIVE lock on ``blocked``, held until the test ends: a VACUUM of it waits."""
    with psycopg.connect(db) as holder:
        holder.execute("LOCK TABLE blocked IN ACCESS EXCLUSIVE MODE")
        yield holder


def _vacuum_backends(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [pid for (pid,) in conn.execute(VACUUMS)]


def _wait_for(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what} within {timeout_s} s"
        time.sleep(0.1)
    return value


def test_a_task_process_killed_mid_vacuum_leaves_no_backend(db, lock_held):
    task = subprocess.Popen(
        [sys.executable, "-c", "import sys; from include.perfpipe.database import vacuum_analyze; "
         "vacuum_analyze(sys.argv[1], ['public.blocked'], lock_timeout_s=120, skip_locked=False)", db],
        cwd=ROOT,
    )  # fmt: skip
    try:
        _wait_for(lambda: _vacuum_backends(db), 60, "no VACUUM started")
        task.kill()
        task.wait(10)
        # the lock is still held: the backend can only end because its client is gone
        _wait_for(lambda: not _vacuum_backends(db), 10, "the killed task's VACUUM still runs")
    finally:
        if task.poll() is None:
            task.kill()
    assert lock_held.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_a_task_past_its_execution_timeout_mid_vacuum_leaves_no_backend(db, lock_held):
    from airflow.sdk.exceptions import AirflowTaskTimeout
    from airflow.sdk.execution_time.timeout import timeout

    with pytest.raises(AirflowTaskTimeout), timeout(2):  # Airflow's own execution_timeout (SIGALRM)
        vacuum_analyze(db, ["public.blocked"], lock_timeout_s=120, skip_locked=False)
    _wait_for(lambda: not _vacuum_backends(db), 10, "the timed-out task's VACUUM still runs")


class _Interrupted(BaseException):
    """What a signal handler raises into a task (Airflow's AirflowTaskTimeout is a BaseException too)."""


def test_a_statement_interrupted_by_any_exception_is_cancelled_on_a_live_connection(db):
    def interrupt(*_):
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    conn = connect(db)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(_Interrupted), cancelled_when_interrupted(conn):
            conn.execute("SELECT pg_sleep(60)")
        pid = conn.info.backend_pid

        def sleeping() -> bool:
            with psycopg.connect(db, autocommit=True) as admin:
                query = "SELECT state = 'active' FROM pg_stat_activity WHERE pid = %s"
                return admin.execute(query, [pid]).fetchone() == (True,)

        # the connection is still open, so only the cancel can have ended its statement
        _wait_for(lambda: not sleeping(), 10, "the interrupted pg_sleep(60) still runs")
        assert not conn.closed
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        conn.close()


def test_the_task_budget_bounds_a_blocked_vacuum_and_skips_what_no_longer_fits(db, lock_held):
    started = time.monotonic()
    rows = vacuum_analyze(
        db, ["public.blocked", "public.after"], lock_timeout_s=120, skip_locked=False, budget=Budget(2.5)
    )
    assert time.monotonic() - started < 15  # not the 120 s lock timeout, nor the 300 s VACUUM cap
    statuses = [(r["table"], r["status"]) for r in rows]
    assert statuses == [("public.blocked", "error"), ("public.after", "skipped_budget")], rows
    assert "statement_timeout" in rows[0]["message"]
    assert rows[1]["message"].startswith("VACUUM not started: 0 s of the task's"), rows[1]
    assert _vacuum_backends(db) == []


def test_an_index_change_that_no_longer_fits_its_budget_is_not_started(db):
    finding = {
        "check": "index_advice",
        "object": "public.after",
        "evidence": {"status": "verified", "index": {"schema": "public", "table": "after", "name": "after_customer",
                                                     "columns": ["customer"]}},
        "sql": "CREATE INDEX CONCURRENTLY after_customer ON public.after (customer)",
    }  # fmt: skip
    (row,) = apply_recommendations(db, [finding], allowlist=["public.*"], apply=True, budget=Budget(90))
    assert row["status"] == "skipped_budget", row  # 90 s leave no room for the build and its 2 x 60 s cleanup
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT to_regclass('public.after_customer')").fetchone() == (None,)
