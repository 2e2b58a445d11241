"""pg_stat_statements: unavailable is reported (PG 15 here has it neither preloaded nor installed);
on PG 18 snapshots are read with the PG 17+ column names and their delta names the window's queries."""

from __future__ import annotations

import psycopg
import pytest

from include.perfpipe.database import snapshot_statements, statements_delta
from include.perfpipe.database.statements import UNAVAILABLE_NOT_PRELOADED

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(server):
    setup = "CREATE TABLE w (k int, v int);\nINSERT INTO w SELECT g % 100, g FROM generate_series(1, 5000) g;\n"
    with server.scratch("statements", setup) as dsn:
        if server.statements:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION pg_stat_statements")
        yield dsn


def test_unavailable_is_reported_not_raised(db, server):
    if server.statements:
        pytest.skip("pg_stat_statements is preloaded on this server")
    snap = snapshot_statements(db)
    assert snap["available"] is False and snap["reason"] == UNAVAILABLE_NOT_PRELOADED and snap["rows"] == []
    assert statements_delta(snap, snap) == []


def test_delta_names_the_queries_of_the_window(db, server):
    if not server.statements:
        pytest.skip("needs pg_stat_statements preloaded (embedded PG 18)")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SELECT sum(v) FROM w WHERE k = %s", [1])  # seen before the window too
        before = snapshot_statements(db)
        for k in range(40):
            conn.execute("SELECT sum(v) FROM w WHERE k = %s", [k])
        for _ in range(3):
            conn.execute("SELECT 1")
    after = snapshot_statements(db)
    assert after["columns"]["blk_read_ms"] == "shared_blk_read_time"  # PG 17+ name
    delta = statements_delta(before, after, top=5)
    top = delta[0]
    assert "FROM w WHERE k" in top["query"] and top["calls"] == 40  # only the window's calls
    assert top["share_pct"] == max(d["share_pct"] for d in delta)
    assert all("pg_stat_statements" not in d["query"] for d in delta)
