"""Query-latency benchmark: LoadResult-shaped output in class ``db``, read-only sessions, the connection
cap, pacing, and queries taken from pg_stat_statements."""

from __future__ import annotations

import psycopg
import pytest

from include.perfpipe.database import run_query_benchmark
from include.perfpipe.database.benchmark import connection_cap
from include.perfpipe.metrics import MetricsRecorder

pytestmark = pytest.mark.integration

LOAD_RESULT_KEYS = {
    "spec",
    "started_at",
    "ended_at",
    "duration_s",
    "metrics",
    "stages",
    "health",
    "aborted",
    "abort_reason",
}


@pytest.fixture(scope="module")
def db(server):
    setup = "CREATE TABLE w (k int PRIMARY KEY, v int);\nINSERT INTO w SELECT g, g FROM generate_series(1, 1000) g;\n"
    with server.scratch("bench", setup) as dsn:
        yield dsn


def test_result_has_the_load_engine_shape_in_class_db(db):
    queries = ["SELECT count(*) FROM w", {"name": "point", "sql": "SELECT v FROM w WHERE k = 5"}]
    result = run_query_benchmark(db, queries, connections=4, duration_s=1.0)
    assert set(result) == LOAD_RESULT_KEYS | {"connections", "connection_cap"}
    assert result["connections"] == 4 and result["aborted"] is False
    recorder = MetricsRecorder.from_dict(result["metrics"])
    stats = recorder.stats_frame(result["duration_s"]).set_index("name")
    assert stats.loc["select_w", "class_name"] == "db" and stats.loc["point", "count"] > 0
    assert stats.loc["db", "errors"] == 0 and stats.loc["db", "p95_ms"] > 0
    assert recorder.timeseries_frame()["active_vus"].max() == 4
    assert result["stages"] == [{"start_s": 0.0, "end_s": 1.0, "kind": "hold"}]
    assert {"loop_lag_p99_ms", "cpu_percent", "dropped", "saturated", "reasons"} <= set(result["health"])


def test_sessions_are_read_only(db):
    result = run_query_benchmark(db, ["CREATE TABLE evil (x int)"], connections=1, duration_s=0.3)
    [endpoint] = result["metrics"]["endpoints"]
    assert endpoint["errors"] == endpoint["count"] > 0
    assert set(endpoint["statuses"]) == {"25006"}  # read_only_sql_transaction
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT to_regclass('evil')").fetchone()[0] is None


def test_connection_cap_leaves_headroom_and_says_so(db):
    with psycopg.connect(db, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        cap = connection_cap(conn, 10_000)
    assert cap["capped"] and cap["used"] == cap["cap"] < cap["max_connections"] - cap["superuser_reserved"]
    assert cap["note"].startswith("capped from 10000 to")
    with pytest.raises(ValueError, match="connections: no connection slot left"):
        run_query_benchmark(db, ["SELECT 1"], connections=5, duration_s=0.2, connection_margin=10_000)


def test_rate_paces_the_queries(db):
    result = run_query_benchmark(db, ["SELECT 1"], connections=4, duration_s=1.0, rate=40)
    count = result["metrics"]["endpoints"][0]["count"]
    assert 0 < count <= 40 + 4  # never more than the schedule allows


def test_bad_input_is_named(db):
    with pytest.raises(ValueError, match="connections"):
        run_query_benchmark(db, ["SELECT 1"], connections=0)
    with pytest.raises(ValueError, match=r"queries\[0\]"):
        run_query_benchmark(db, [""], connections=1, duration_s=0.1)


def test_default_queries_come_from_pg_stat_statements(db, server):
    if not server.statements:
        with pytest.raises(ValueError, match="pg_stat_statements"):
            run_query_benchmark(db, None, connections=1, duration_s=0.2)
        return
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for _ in range(5):
            conn.execute("SELECT max(v) FROM w")
        conn.execute("SELECT v FROM w WHERE k = 7")  # normalised to $1: cannot be replayed, skipped
        for _ in range(9):  # catalog and monitoring queries are not the application's workload
            conn.execute("SELECT count(*) FROM pg_stat_user_tables")
            conn.execute("SELECT version()")
    result = run_query_benchmark(db, None, connections=2, duration_s=0.5)
    sqls = [q["sql"] for q in result["spec"]["queries"]]
    assert "SELECT max(v) FROM w" in sqls and not any("$1" in s for s in sqls)
    assert not any("pg_stat_user_tables" in s or "version()" in s for s in sqls)
