"""Each insight check finds a problem created on purpose, naming the right object, and stays quiet on a
clean database. Runs on the system PostgreSQL 15 and on embedded PostgreSQL 18."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from include.perfpipe.database import CHECKS, inspect_database, table_stats
from include.perfpipe.database.statements import UNAVAILABLE_NOT_PRELOADED
from tests.integration.database.conftest import by_check, run_and_close

pytestmark = pytest.mark.integration

# A backend flushes its table counts when idle at most once a second: a flush that lands after a VACUUM in the same
# session adds the INSERT/DELETE counts on top of VACUUM's (bloated read 0 or 6,000 live tuples in 5 of 8 pg18 runs),
# so the setup forces the flush before each VACUUM.
PROBLEMS = """
CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, note text);
INSERT INTO orders SELECT g, g % 500, 'n' FROM generate_series(1, 20000) g;
CREATE TABLE items (id int PRIMARY KEY, sku text UNIQUE, label text);
CREATE INDEX items_label_idx ON items (label);
CREATE TABLE pairs (a int, b int, c int);
CREATE INDEX pairs_a_idx ON pairs (a);
CREATE INDEX pairs_a_b_idx ON pairs (a, b);
CREATE INDEX pairs_b_idx ON pairs (b);
CREATE INDEX pairs_a_part_idx ON pairs (a) WHERE c > 0;
CREATE INDEX pairs_a_hash ON pairs USING hash (a);
CREATE TABLE twins (x int);
INSERT INTO twins VALUES (1), (1);
CREATE TABLE seq_warn (id serial PRIMARY KEY);
SELECT setval('seq_warn_id_seq', 2000000000);
CREATE TABLE seq_crit (id serial PRIMARY KEY);
SELECT setval('seq_crit_id_seq', 2100000000);
CREATE TABLE seq_big (id bigserial PRIMARY KEY);
SELECT setval('seq_big_id_seq', 2100000000);
CREATE TABLE bloated (id int PRIMARY KEY, payload text) WITH (autovacuum_enabled = false);
INSERT INTO bloated SELECT g, repeat('x', 100) FROM generate_series(1, 30000) g;
DELETE FROM bloated WHERE id % 10 <> 0;
SELECT pg_stat_force_next_flush();
VACUUM ANALYZE bloated;
CREATE TABLE stale (id int, v int)
  WITH (autovacuum_enabled = false, autovacuum_vacuum_threshold = 10, autovacuum_analyze_threshold = 10);
INSERT INTO stale SELECT g, g FROM generate_series(1, 100) g;
SELECT pg_stat_force_next_flush();
VACUUM ANALYZE stale;
DELETE FROM stale WHERE id <= 50;
CREATE TABLE never_vacuumed (id int) WITH (autovacuum_enabled = false);
INSERT INTO never_vacuumed SELECT g FROM generate_series(1, 100) g;
DELETE FROM never_vacuumed WHERE id <= 60;
CREATE TABLE flat (id int PRIMARY KEY, kind text NOT NULL, v int);
INSERT INTO flat SELECT g, 'same', g FROM generate_series(1, 2000) g;
CREATE INDEX flat_kind_idx ON flat (kind);
CREATE INDEX flat_v_idx ON flat (v);
ANALYZE flat;
CREATE TABLE lazy (id int) WITH (autovacuum_vacuum_threshold = 2000000000);
ANALYZE orders;
"""

CLEAN = """
CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, balance int NOT NULL);
INSERT INTO accounts SELECT g, 'user' || g || '@example.com', g % 1000 FROM generate_series(1, 20000) g;
ALTER TABLE accounts ADD CONSTRAINT accounts_email_key UNIQUE (email);
CREATE TABLE small (id serial PRIMARY KEY, v int NOT NULL);
INSERT INTO small (v) SELECT g FROM generate_series(1, 10) g;
"""


@pytest.fixture(scope="module")
def problems(server):
    with server.scratch("problems", PROBLEMS) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            if server.statements:
                conn.execute("CREATE EXTENSION pg_stat_statements")
            with pytest.raises(psycopg.errors.UniqueViolation):  # leaves twins_x_key invalid
                conn.execute("CREATE UNIQUE INDEX CONCURRENTLY twins_x_key ON twins (x)")
        run_and_close(dsn, [f"SELECT count(*) FROM orders WHERE customer = {n}" for n in range(120)])
        # one connection each: a backend flushes its statistics at most once a second (run_and_close forces it), so
        # counts of an INSERT flushed after the ANALYZE of the same session would count as changes since it
        run_and_close(dsn, ["CREATE TABLE settled (id int, v int) WITH (autovacuum_enabled = false)"])
        run_and_close(dsn, ["INSERT INTO settled SELECT g, g FROM generate_series(1, 100) g"])
        run_and_close(dsn, ["VACUUM ANALYZE settled"])
        run_and_close(dsn, ["DELETE FROM settled WHERE id <= 50"])
        yield dsn


@pytest.fixture(scope="module")
def clean(server):
    with server.scratch("clean", CLEAN) as dsn:
        # after the setup's connection flushed its counts: else the inserts count as changes since
        run_and_close(dsn, ["VACUUM ANALYZE accounts", "VACUUM ANALYZE small"])
        if server.statements:
            run_and_close(dsn, ["CREATE EXTENSION pg_stat_statements"])
        run_and_close(
            dsn,
            [f"SELECT * FROM accounts WHERE id = {n}" for n in range(1, 60)]
            + [f"SELECT * FROM accounts WHERE email = 'user{n}@example.com'" for n in range(1, 60)]
            + ["SELECT * FROM small WHERE id = 3"],
        )
        yield dsn


@pytest.fixture(scope="module")
def found(problems):
    return inspect_database(
        problems, {"bloat_min_bytes": 100_000, "bloat_min_pct": 30, "unused_index_min_stats_days": 0}
    )


def test_table_stats_reports_sizes_tuples_and_maintenance_times(problems):
    rows = {r["table"]: r for r in table_stats(problems)}
    assert rows["bloated"]["live_tuples"] >= 3000 and rows["bloated"]["last_vacuum"] is not None
    assert rows["never_vacuumed"]["last_vacuum"] is None and rows["never_vacuumed"]["dead_tuples"] == 60
    assert rows["orders"]["total_bytes"] > rows["orders"]["table_bytes"] > 0


def test_never_vacuumed_table_past_autovacuums_triggers_is_stale(found, problems):
    vacuum = by_check(found, "stale_vacuum")["public.never_vacuumed"]
    assert vacuum["severity"] == "warning" and "60 dead tuples" in vacuum["recommendation"]
    # never vacuumed nor analyzed: reltuples is -1, which autovacuum takes as 0 rows
    assert "60 dead tuples > 50 = autovacuum_vacuum_threshold 50 (server)" in vacuum["recommendation"]
    analyze = by_check(found, "stale_analyze")["public.never_vacuumed"]
    assert [c["trigger"] for c in analyze["evidence"]["crossed"]] == ["analyze"]
    assert analyze["evidence"]["crossed"][0]["count"] == 160  # 100 inserted + 60 deleted
    # vacuumed seconds ago, but past its trigger again and autovacuum will never come: stale at once
    stale = by_check(found, "stale_vacuum")["public.stale"]
    blocked_by = "autovacuum = off" if _autovacuum_off(problems) else "autovacuum_enabled = false"
    assert stale["evidence"]["autovacuum_blocked_by"] == blocked_by and blocked_by in stale["recommendation"]


def test_stale_uses_the_tables_own_autovacuum_thresholds(problems):
    found = inspect_database(problems, {"stale_vacuum_days": 0, "stale_analyze_days": 0}, ["table_analysis"])
    vacuum = by_check(found, "stale_vacuum")["public.stale"]
    assert vacuum["evidence"]["dead_tuples"] == 50 and vacuum["evidence"]["last_vacuum"] is not None
    assert vacuum["sql"] == 'VACUUM (ANALYZE) "public"."stale"'
    # its reloption lowers the threshold to 10: 10 + 0.2 x 100 rows = 30 < 50 dead tuples
    assert (
        "50 dead tuples > 30 = autovacuum_vacuum_threshold 10 (table) + autovacuum_vacuum_scale_factor 0.2 "
        "(server) x 100 rows" in vacuum["recommendation"]
    )
    analyze = by_check(found, "stale_analyze")["public.stale"]
    assert analyze["sql"] == 'ANALYZE "public"."stale"' and analyze["evidence"]["crossed"][0]["threshold"] == 20
    # the same 50 dead tuples in a table with the server's defaults: 50 + 0.2 x 100 = 70, not stale
    assert "public.settled" not in by_check(found, "stale_vacuum")
    assert "public.settled" not in by_check(found, "stale_analyze")


def test_seq_scan_heavy_table(found, server):
    f = by_check(found, "seq_scans")["public.orders"]
    assert f["evidence"]["index_use_pct"] < 95 and f["evidence"]["seq_scan"] >= 120 and f["sql"] is None
    if server.statements:  # the busiest statement filters on customer: parsed advice, unverified without HypoPG
        advice = by_check(found, "index_advice")["public.orders_customer_idx"]
        assert advice["evidence"]["status"] == "unverified" and advice["evidence"]["calls"] == 120
        assert advice["sql"] == 'CREATE INDEX CONCURRENTLY "orders_customer_idx" ON "public"."orders" ("customer")'
    else:
        assert by_check(found, "index_advice") == {}


def test_useless_index_and_blocked_autovacuum(found):
    useless = by_check(found, "useless_indexes")
    assert set(useless) == {"public.flat_kind_idx"}
    assert useless["public.flat_kind_idx"]["sql"] == 'DROP INDEX CONCURRENTLY "public"."flat_kind_idx"'
    blocked = by_check(found, "autovacuum_blocked")
    assert blocked["public.never_vacuumed"]["evidence"]["reasons"] == ["autovacuum_enabled = false"]
    assert blocked["public.never_vacuumed"]["sql"] == 'ALTER TABLE "public"."never_vacuumed" RESET (autovacuum_enabled)'
    assert "vacuum triggers only after" in blocked["public.lazy"]["evidence"]["reasons"][0]
    assert "public.orders" not in blocked


def test_unused_indexes_skip_unique_ones_and_say_how_old_the_statistics_are(found, problems):
    unused = by_check(found, "unused_indexes")
    assert "public.items_label_idx" in unused
    evidence = unused["public.items_label_idx"]["evidence"]
    assert evidence["statistics_source"] == "database created" and evidence["statistics_age_s"] < 3600
    assert "public.items_sku_key" not in unused and "public.items_pkey" not in unused
    assert unused["public.items_label_idx"]["sql"] == 'DROP INDEX CONCURRENTLY "public"."items_label_idx"'


def test_duplicate_index_is_the_covered_prefix_only(found):
    dup = by_check(found, "duplicate_indexes")
    assert dup["public.pairs_a_idx"]["evidence"]["covered_by"] == "public.pairs_a_b_idx"
    for other in ("pairs_a_b_idx", "pairs_b_idx", "pairs_a_part_idx", "pairs_a_hash"):
        assert f"public.{other}" not in dup


def test_invalid_index(found):
    f = by_check(found, "invalid_indexes")["public.twins_x_key"]
    assert f["sql"] == 'REINDEX INDEX CONCURRENTLY "public"."twins_x_key"'


def test_cache_hit_rate_below_threshold(problems, server):
    if server.name == "pg18":  # PG 18 does not count relation extension as reads: evict, then read from disk
        run_and_close(
            problems,
            [
                "CREATE EXTENSION IF NOT EXISTS pg_buffercache",
                "SELECT pg_buffercache_evict_relation('orders')",
                "SELECT count(*) FROM orders",
            ],
        )
    found = inspect_database(problems, {"cache_hit_min_pct": 99.999, "cache_hit_min_blocks": 1}, ["cache_hit_rate"])
    tables = by_check(found, "cache_hit_rate")[f"{problems.rsplit('/', 1)[1]} tables"]
    assert tables["evidence"]["blocks_read"] > 0 and tables["evidence"]["hit_pct"] < 99.999


def test_xid_wraparound_with_lowered_thresholds(problems):
    database = problems.rsplit("/", 1)[1]
    found = inspect_database(problems, {"xid_age_warning": 1, "xid_age_critical": 2_000_000_000}, ["xid_wraparound"])
    assert by_check(found, "xid_wraparound")[database]["severity"] == "warning"
    found = inspect_database(problems, {"xid_age_warning": 1, "xid_age_critical": 1}, ["xid_wraparound"])
    assert by_check(found, "xid_wraparound")["public.orders"]["severity"] == "critical"


def test_sequences_near_exhaustion_use_the_column_type(found):
    seqs = by_check(found, "sequence_exhaustion")
    assert seqs["public.seq_warn_id_seq"]["severity"] == "warning"
    assert seqs["public.seq_crit_id_seq"]["severity"] == "critical"
    assert seqs["public.seq_crit_id_seq"]["evidence"]["limit"] == 2147483647
    assert "public.seq_big_id_seq" not in seqs


def test_table_and_index_bloat(found):
    table = by_check(found, "table_bloat")["public.bloated"]
    assert table["evidence"]["bloat_pct"] > 70
    assert "public.bloated_pkey" in by_check(found, "index_bloat")
    assert "public.orders" not in by_check(found, "table_bloat")


def test_connections_with_lowered_threshold(problems):
    assert "server" in by_check(inspect_database(problems, {"connections_max_pct": 0}, ["connections"]), "connections")


def test_slow_queries(problems, server):
    found = inspect_database(problems, {"slow_query_mean_ms": 0.01, "slow_query_min_calls": 100}, ["slow_queries"])
    if not server.statements:  # installed but not preloaded: SQLSTATE 55000, reported, not raised
        [f] = found
        assert f["severity"] == "info" and f["evidence"]["reason"] == UNAVAILABLE_NOT_PRELOADED
        assert "pg_stat_statements" in f["sql"]
        return
    slow = [f for f in found if "FROM orders WHERE customer" in f["evidence"]["query"]]
    assert slow and slow[0]["evidence"]["calls"] >= 120


def test_young_statistics_give_one_info_line_instead_of_unused_indexes(problems):
    [f] = inspect_database(problems, None, ["unused_indexes"])
    assert f["severity"] == "info" and f["object"] == problems.rsplit("/", 1)[1] and f["sql"] is None
    assert (
        f["recommendation"].startswith("statistics are ")
        and "old: the unused-index check needs 7 days" in (f["recommendation"])
    )


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_clean_database_has_no_finding(clean, server, check):
    found = inspect_database(
        clean, {"bloat_min_bytes": 1, "bloat_min_pct": 30, "unused_index_min_stats_days": 0}, [check]
    )
    if check == "slow_queries" and not server.statements:
        assert [f["severity"] for f in found] == ["info"]  # "unavailable", not a slow query
        return
    if check == "autovacuum_blocked" and _autovacuum_off(clean):  # the shared system server runs without it
        assert [(f["object"], f["evidence"]["settings"]) for f in found] == [("server", {"autovacuum": "off"})]
        return
    assert found == []


def _autovacuum_off(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SHOW autovacuum").fetchone()[0] == "off"


def test_without_pg_stat_file_the_statistics_count_from_their_reset_or_the_servers_start(server, problems):
    """A monitoring role (pg_monitor) may not read the database's creation time: the window then starts at the
    statistics' reset, else the server's start, and the check still answers."""
    role = f"perfdb_monitor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE pg_monitor").format(sql.Identifier(role)))
    try:
        monitor_dsn = problems.replace("postgres@", f"{role}@", 1)
        [f] = inspect_database(monitor_dsn, None, ["unused_indexes"])
        assert f["evidence"]["statistics_source"] in ("stats_reset", "server start")
        with psycopg.connect(problems) as conn:
            row = conn.execute(
                """SELECT coalesce(d.stats_reset, pg_postmaster_start_time()) AS since FROM pg_stat_database d
                    WHERE d.datname = current_database()"""
            ).fetchone()
        assert f["evidence"]["statistics_since"] == row[0].isoformat()
    finally:
        with psycopg.connect(server.admin_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
