"""The cross-shard abort signal on a real PostgreSQL: idempotent raising, the watcher, a lost database."""

import logging
import time
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.store import AbortSignal, ResultsStore
from include.perfpipe.store.migrations import load_migrations
from tests.conftest import free_port
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration
SEEN_WITHIN_S = 5  # the watcher polls every second


def _rows(dsn, run_id):
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT shard, reason FROM perfpipe.run_aborts WHERE run_id = %s", (run_id,)).fetchall()


def test_migration_adds_run_aborts_once(scratch_db):
    dsn = scratch_db("perfabort_migrate")
    assert ResultsStore(dsn).migrate() == [m.version for m in load_migrations()]  # 0002 among them
    assert ResultsStore(dsn).migrate() == []
    with psycopg.connect(dsn) as conn:
        key = conn.execute(
            "SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'perfpipe.run_aborts'::regclass AND i.indisprimary"
        ).fetchone()[0]
    assert key == ["dag_id", "run_id"]


def test_raising_twice_keeps_one_row_and_the_first_reason(scratch_dsn):
    signal = AbortSignal(scratch_dsn, "perf_load", "twice")
    assert signal.raise_abort("p95 too high", 0)
    assert signal.raise_abort("error rate too high", 1)  # another shard, or a retried task
    assert _rows(scratch_dsn, "twice") == [(0, "p95 too high")]


def test_watcher_sees_a_row_raised_by_another_connection(scratch_dsn):
    with AbortSignal(scratch_dsn, "perf_load", "watched") as signal:
        assert not signal.aborted.wait(1.5) and signal.should_stop() is None
        with psycopg.connect(scratch_dsn) as other:
            other.execute(
                "INSERT INTO perfpipe.run_aborts (dag_id, run_id, reason, shard) "
                "VALUES ('perf_load', 'watched', 'circuit breaker: 100% errors', 3)"
            )
        assert signal.aborted.wait(SEEN_WITHIN_S)
    assert signal.should_stop() == "stopped: shard 3 aborted: circuit breaker: 100% errors"


def test_a_row_of_an_earlier_attempt_is_ignored_then_replaced(scratch_dsn):
    AbortSignal(scratch_dsn, "perf_load", "cleared").raise_abort("first attempt", 0)
    with psycopg.connect(scratch_dsn) as conn:
        conn.execute("UPDATE perfpipe.run_aborts SET at = now() - interval '1 hour' WHERE run_id = 'cleared'")
    with AbortSignal(scratch_dsn, "perf_load", "cleared", since=time.time() - 1) as signal:
        assert not signal.aborted.wait(2.5)
        assert signal.raise_abort("second attempt", 1) and signal.raise_abort("later", 0)
        assert signal.aborted.wait(SEEN_WITHIN_S)
    assert signal.should_stop() == "stopped: shard 1 aborted: second attempt"
    assert _rows(scratch_dsn, "cleared") == [(1, "second attempt")]


def _short_load_test(should_stop):
    with LoopbackServer() as server:
        spec = load_spec("smoke", server.url("/ok"), overrides={"vus": 2, "duration": "2s"})
        return run_load_test(spec, processes=1, should_stop=should_stop)


def test_a_lost_database_leaves_the_load_test_running_and_polling_goes_on(scratch_db, caplog):
    dsn = scratch_db("perfabort_lost")
    name = urlsplit(dsn).path.lstrip("/")
    admin_url = urlsplit(dsn)._replace(path="/postgres").geturl()
    caplog.set_level(logging.INFO, logger="perfpipe.store")
    with AbortSignal(dsn, "perf_load", "lost", poll_interval_s=0.2) as signal:
        time.sleep(1)  # connected and migrated
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        result = _short_load_test(signal.should_stop)
        assert not result.aborted and result.duration_s == 2.0
        assert "results database unavailable" in caplog.text
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        assert AbortSignal(dsn, "perf_load", "lost").raise_abort("after the outage", 2)
        assert signal.aborted.wait(SEEN_WITHIN_S)
    assert signal.should_stop() == "stopped: shard 2 aborted: after the outage"
    assert "results database back" in caplog.text


def test_an_unreachable_database_never_stops_the_load_test(caplog):
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    with AbortSignal(dsn, "perf_load", "unreachable", poll_interval_s=0.2) as signal:
        result = _short_load_test(signal.should_stop)
        assert not signal.raise_abort("nobody hears this", 0)
    assert not result.aborted and result.duration_s == 2.0
    assert "results database unavailable" in caplog.text and "could not tell the other shards" in caplog.text


def test_a_worker_clock_an_hour_ahead_still_sees_this_attempts_abort(scratch_dsn, monkeypatch):
    """``since`` is this worker's clock; rows carry the DB's now(): compared on the DB's clock, an abort
    raised in this attempt counts although the worker's clock runs an hour ahead."""
    import include.perfpipe.store.abort_signal as abort_signal

    real_time = time.time
    monkeypatch.setattr(abort_signal.time, "time", lambda: real_time() + 3600)
    since = time.time() - 1  # the common start, a second ago on the worker's clock
    with AbortSignal(scratch_dsn, "perf_load", "clock_ahead", since=since) as signal:
        assert signal.raise_abort("p95 too high", 1)
        assert signal.aborted.wait(SEEN_WITHIN_S), "the abort of this attempt was taken for an earlier one"
    assert signal.should_stop() == "stopped: shard 1 aborted: p95 too high"
