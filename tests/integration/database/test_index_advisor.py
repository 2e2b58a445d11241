"""The index advisor on PostgreSQL 15 with HypoPG: a missing two-column index on a filtered, sorted query and
a foreign key without an index are recommended, verified by the planner; a query that reads most of its
table is not. Without HypoPG the same two come back, marked unverified."""

from __future__ import annotations

import psycopg
import pytest

from include.perfpipe.database import inspect_database
from tests.integration.database.conftest import run_and_close

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 1000) g;
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id), kind text NOT NULL,
                     amount int NOT NULL);
INSERT INTO orders SELECT g, 1 + g % 1000, CASE WHEN g % 20 = 0 THEN 'wholesale' ELSE 'retail' END, g % 977
  FROM generate_series(1, 50000) g;
CREATE TABLE "Events" (id int PRIMARY KEY, "Region" int NOT NULL, created_at timestamptz NOT NULL, body text);
INSERT INTO "Events" SELECT g, g % 100, now() - g * interval '1 minute', repeat('x', 40)
  FROM generate_series(1, 50000) g;
VACUUM ANALYZE customers;
VACUUM ANALYZE orders;
VACUUM ANALYZE "Events";
CREATE EXTENSION pg_stat_statements;
"""
WORKLOAD = [
    f'SELECT e.id, e.body FROM "Events" e WHERE e."Region" = {n % 100} ORDER BY e.created_at DESC LIMIT 20'
    for n in range(120)
] + [
    "SELECT o.id, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id "
    f"WHERE o.kind = 'retail' AND c.name <> 'x{n}'"
    for n in range(110)
]
EXPECTED = {
    (
        "index_advice",
        "public.Events_Region_created_at_idx",
    ): 'CREATE INDEX CONCURRENTLY "Events_Region_created_at_idx" ON "public"."Events" ("Region", "created_at")',
    (
        "fk_without_index",
        "public.orders_customer_id_idx",
    ): 'CREATE INDEX CONCURRENTLY "orders_customer_id_idx" ON "public"."orders" ("customer_id")',
}
INDEX_CHECKS = ["index_advice", "fk_without_index"]


@pytest.fixture(scope="module")
def advised_db(hypopg_server):
    with hypopg_server.scratch("advisor", SCHEMA) as dsn:
        run_and_close(dsn, WORKLOAD)
        yield dsn


def _advice(dsn: str) -> dict[tuple[str, str], dict]:
    return {(f["check"], f["object"]): f for f in inspect_database(dsn, None, INDEX_CHECKS)}


def test_hypopg_verifies_exactly_the_two_missing_indexes(advised_db):
    run_and_close(advised_db, ["CREATE EXTENSION IF NOT EXISTS hypopg"])
    advice = _advice(advised_db)
    assert {key: f["sql"] for key, f in advice.items()} == EXPECTED
    for f in advice.values():
        ev = f["evidence"]
        assert ev["status"] == "verified"
        assert ev["cost_after"] <= ev["cost_before"] / 2 and ev["cost_cut_pct"] >= 50
    search = advice[("index_advice", "public.Events_Region_created_at_idx")]["evidence"]
    assert search["calls"] == 120 and search["total_ms"] > 0 and "ORDER BY e.created_at DESC" in search["query"]
    # its cost: the share of the database's query time of the queries it serves (the advised ones among them)
    assert (
        0 < search["share_pct"] < 100
        and f"{search['share_pct']} % of this database's query time"
        in (advice[("index_advice", "public.Events_Region_created_at_idx")]["recommendation"])
    )
    assert search["reason"] == "order_by" and search["index"]["columns"] == ["Region", "created_at"]


def test_a_stricter_cost_cut_drops_advice(advised_db):
    run_and_close(advised_db, ["CREATE EXTENSION IF NOT EXISTS hypopg"])
    assert inspect_database(advised_db, {"index_min_cost_cut_pct": 99.99}, INDEX_CHECKS) == []


def test_without_hypopg_the_same_two_are_unverified(advised_db):
    run_and_close(advised_db, ["DROP EXTENSION IF EXISTS hypopg"])
    advice = _advice(advised_db)
    assert {key: f["sql"] for key, f in advice.items()} == EXPECTED
    for f in advice.values():
        assert f["evidence"]["status"] == "unverified" and f["evidence"]["cost_after"] is None
        assert f["evidence"]["hypopg_available"] is True and "CREATE EXTENSION hypopg" in f["recommendation"]


def test_applying_the_advice_serves_the_query_and_silences_it(advised_db):
    """Only verified advice is applied; once the indexes exist the planner uses them and the advice stops."""
    from include.perfpipe.database import apply_recommendations

    run_and_close(advised_db, ["CREATE EXTENSION IF NOT EXISTS hypopg"])
    found = inspect_database(advised_db, None, INDEX_CHECKS)
    results = apply_recommendations(advised_db, found, allowlist=["public.*"], apply=True)
    assert sorted(r["status"] for r in results) == ["applied", "applied"]
    with psycopg.connect(advised_db) as conn:
        plan = conn.execute('EXPLAIN SELECT id FROM "Events" WHERE "Region" = 3 ORDER BY created_at DESC LIMIT 20')
        assert "Events_Region_created_at_idx" in "\n".join(r[0] for r in plan)
    assert inspect_database(advised_db, None, INDEX_CHECKS) == []
