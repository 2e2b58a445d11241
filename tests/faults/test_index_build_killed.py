"""Fault matrix row 17 on the real PostgreSQL: a CREATE INDEX CONCURRENTLY killed mid-way leaves an INVALID
index; the retry drops it and builds the index, so no INVALID index is left. Also: the build has a
statement_timeout."""

import threading
import time

import psycopg
import pytest
from psycopg import sql

from include.perfpipe.database import apply_recommendations
from tests.conftest import query_rows

pytestmark = pytest.mark.integration
INDEX = "orders_customer_idx"


def _finding() -> dict:
    index = {"schema": "public", "table": "orders", "name": INDEX, "columns": ["customer"]}
    return {
        "check": "index_advice",
        "severity": "warning",
        "object": "public.orders",
        "evidence": {"status": "verified", "index": index},
        "recommendation": "index orders(customer)",
        "sql": f"CREATE INDEX CONCURRENTLY {INDEX} ON public.orders (customer)",
    }


@pytest.fixture
def db(scratch_db):
    url = scratch_db("perfpipe_faults_index")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer int)")
        conn.execute("INSERT INTO orders SELECT g, g % 97 FROM generate_series(1, 2000) g")
    return url


def _invalid(url: str) -> list[str]:
    rows = query_rows(
        url, "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid"
    )
    return [name for (name,) in rows]


def _snapshot_holder(url: str) -> psycopg.Connection:
    """A session idle in a REPEATABLE READ transaction: a CONCURRENTLY build waits for its snapshot."""
    holder = psycopg.connect(url)
    holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    holder.execute("SELECT count(*) FROM orders")
    return holder


def _kill_build_midway(url: str) -> None:
    """Start a CONCURRENTLY build, let it stall behind an open snapshot (its index already in the catalog,
    INVALID), and terminate its backend, as a killed worker or a DB restart would."""
    holder = _snapshot_holder(url)
    builder = psycopg.connect(url, autocommit=True)
    pid = builder.info.backend_pid
    failed: list[Exception] = []

    def build() -> None:
        try:
            builder.execute(sql.SQL("CREATE INDEX CONCURRENTLY {} ON orders (customer)").format(sql.Identifier(INDEX)))
        except psycopg.Error as exc:
            failed.append(exc)

    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    with psycopg.connect(url, autocommit=True) as admin:
        deadline = time.monotonic() + 10
        while INDEX not in _invalid(url) and time.monotonic() < deadline:
            time.sleep(0.05)
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    thread.join(10)
    holder.close()
    assert failed and not thread.is_alive()


def test_a_killed_index_build_is_dropped_and_rebuilt_on_the_retry(db):
    _kill_build_midway(db)
    assert _invalid(db) == [INDEX]  # the fault is real: the killed build left its INVALID index

    (row,) = apply_recommendations(db, [_finding()], allowlist=["public.*"], apply=True)
    assert row["status"] == "applied", row
    assert f"public.{INDEX}" in row["message"]  # said what it dropped
    assert _invalid(db) == []
    [(valid,)] = query_rows(
        db, "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s", [INDEX]
    )
    assert valid


def test_an_index_build_past_its_statement_timeout_leaves_no_invalid_index(db):
    holder = _snapshot_holder(db)  # the build waits for its snapshot past the statement_timeout
    release = threading.Timer(3, holder.close)  # then the cleanup's DROP INDEX CONCURRENTLY may proceed
    release.start()
    try:
        started = time.monotonic()
        (row,) = apply_recommendations(db, [_finding()], allowlist=["public.*"], apply=True, statement_timeout_s=1)
        assert time.monotonic() - started < 20
    finally:
        release.join()
    assert row["status"] == "error" and "statement timeout" in row["message"], row
    assert _invalid(db) == []
    (retry,) = apply_recommendations(db, [_finding()], allowlist=["public.*"], apply=True)
    assert retry["status"] == "applied" and _invalid(db) == []
