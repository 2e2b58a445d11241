"""The DB query client on the load engine against a real server: every query the client records is one the
server ran (closed model), the open model drops what a slow database cannot take and times from the
intended start, statement_timeout and SQLSTATE errors, a lost connection replaced, connections closed at the end."""

from __future__ import annotations

import asyncio
import threading
import time
from time import perf_counter

import psycopg
import pytest

from include.perfpipe.database import run_query_benchmark
from include.perfpipe.database.query_client import QuerySpec, query_executor, query_generator
from include.perfpipe.metrics import MetricsRecorder

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(server):
    with server.scratch("client", "CREATE SEQUENCE hits;\n") as dsn:
        yield dsn


def endpoints(result: dict) -> dict:
    return {e["name"]: e for e in result["metrics"]["endpoints"]}


def bench_connections(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = 'perfpipe-db-bench' AND datname = current_database()"
        ).fetchone()[0]  # this database's: other tests (pytest-xdist workers) benchmark theirs on the same server


def test_closed_model_records_every_query_the_server_ran(db):
    with psycopg.connect(db, autocommit=True) as conn:
        before = conn.execute("SELECT nextval('hits')").fetchone()[0]
    queries = [{"name": "hit", "sql": "SELECT nextval('hits')", "weight": 3}, {"name": "one", "sql": "SELECT 1"}]
    result = run_query_benchmark(db, queries, connections=3, duration_s=1.0, read_only=False)
    with psycopg.connect(db, autocommit=True) as conn:
        after = conn.execute("SELECT nextval('hits')").fetchone()[0]
    rows = endpoints(result)
    assert result["health"]["interrupted"] == 0  # each VU finished the query it began before the end
    assert rows["hit"]["count"] == after - before - 1 > 0 and rows["hit"]["errors"] == 0
    assert rows["one"]["count"] > 0 and result["spec"]["model"] == "closed"
    assert result["metrics"]["iterations"]["default"] == rows["hit"]["count"] + rows["one"]["count"]
    assert bench_connections(db) == 0  # every connection closed at the end


def test_open_model_drops_what_a_slow_database_cannot_take(db):
    # 2 connections at 200 ms a query carry 10 queries/s; 40/s are asked for, for 1 s
    result = run_query_benchmark(db, ["SELECT pg_sleep(0.2)"], connections=2, duration_s=1.0, rate=40)
    [row] = result["metrics"]["endpoints"]
    health = result["health"]
    assert result["spec"]["model"] == "open" and result["spec"]["executor"] == "constant_arrival_rate"
    assert 0 < row["count"] <= 10 and row["errors"] == 0
    assert row["dropped"] == health["dropped"] and row["count"] + row["dropped"] <= 40 and row["dropped"] >= 20
    assert health["saturated"] and health["reasons"][0].startswith(f"{row['dropped']} queries dropped")
    stats = MetricsRecorder.from_dict(result["metrics"]).stats_frame(result["duration_s"]).set_index("name")
    assert stats.loc["select", "min_ms"] >= 200  # every query measured, none shortened by the drops
    assert bench_connections(db) == 0


def test_latency_runs_from_the_intended_start(db):
    """An open-model query due 300 ms ago (a late loop) is charged those 300 ms, as wrk2 does."""
    spec = QuerySpec.of(query_executor(1, 1.0, rate=1), [{"name": "one", "sql": "SELECT 1", "weight": 1}], 1)
    process = query_generator(spec, db)

    async def late_query() -> None:
        process.t0 = perf_counter()
        await process.open_connections(1)
        try:
            vu = process.new_vu(0)
            await process.one_iteration(vu, perf_counter() - 0.3)
        finally:
            await process.close_connections()

    asyncio.run(late_query())
    stats = process.rec.stats_frame(1.0).set_index("name")
    assert stats.loc["one", "count"] == 1 and stats.loc["one", "min_ms"] >= 300


def test_statement_timeout_is_an_error_by_sqlstate(db):
    result = run_query_benchmark(db, ["SELECT pg_sleep(1)"], connections=2, duration_s=0.5, statement_timeout_s=0.1)
    [row] = result["metrics"]["endpoints"]
    assert row["errors"] == row["count"] > 0 and set(row["statuses"]) == {"57014"}  # query_canceled
    assert result["health"]["interrupted"] == 0


def test_a_lost_connection_is_reported_and_its_vu_reconnects(db):
    """A backend terminated mid-run: its query fails by SQLSTATE, health names the lost connection, and the
    VU opens a new connection and goes on."""
    done = threading.Event()

    def terminate_one() -> None:
        with psycopg.connect(db, autocommit=True) as conn:
            while not done.is_set():
                killed = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'perfpipe-db-bench' AND datname = current_database()"
                    " AND state = 'active' AND query LIKE '%pg_sleep%' LIMIT 1"
                ).fetchall()
                if killed:
                    return
                time.sleep(0.02)

    killer = threading.Thread(target=terminate_one)
    killer.start()
    try:
        result = run_query_benchmark(db, ["SELECT pg_sleep(0.05)"], connections=1, duration_s=1.5)
    finally:
        done.set()
        killer.join()
    [row] = result["metrics"]["endpoints"]
    assert "1 connection(s) lost during the run" in result["health"]["reasons"] and result["health"]["saturated"]
    [failed] = set(row["statuses"]) - {"OK"}
    assert row["errors"] == 1 and failed in {"57P01", "OperationalError"}  # admin_shutdown, or killed between queries
    assert row["statuses"]["OK"] > row["errors"]  # queries went on over a new connection
    assert bench_connections(db) == 0
