"""Autovacuum's own triggers, the unused-index ranking, and the DBA's summary of the findings."""

from __future__ import annotations

import pytest

from include.perfpipe.database.autovacuum import crossed_triggers, describe_trigger, why_not_processed
from include.perfpipe.database.digest import digest
from include.perfpipe.database.findings import age_words, size_words
from include.perfpipe.database.indexes import unused_cost_order
from include.perfpipe.database.tables import overdue

PG15 = {
    "autovacuum_vacuum_threshold": "50",
    "autovacuum_vacuum_scale_factor": "0.2",
    "autovacuum_vacuum_insert_threshold": "1000",
    "autovacuum_vacuum_insert_scale_factor": "0.2",
    "autovacuum_analyze_threshold": "50",
    "autovacuum_analyze_scale_factor": "0.1",
}
PG18 = {**PG15, "autovacuum_vacuum_max_threshold": "100000000"}


def _counts(dead=0, inserted=0, modified=0) -> dict:
    return {"dead_tuples": dead, "inserted_since_vacuum": inserted, "modified_since_analyze": modified}


def _triggers(counts: dict, rows: float, options=None, settings=PG15) -> dict[str, dict]:
    return {t["trigger"]: t for t in crossed_triggers(counts, rows, options or {}, settings)}


def test_below_every_trigger_a_table_is_not_stale():
    # 1,000 rows: vacuum at 50 + 0.2 x 1000 = 250 dead, analyze at 50 + 0.1 x 1000 = 150 changes
    assert _triggers(_counts(dead=250, inserted=1200, modified=150), 1000) == {}


def test_each_trigger_crossed_is_named_with_its_figures():
    crossed = _triggers(_counts(dead=251, inserted=1201, modified=151), 1000)
    assert set(crossed) == {"vacuum", "insert_vacuum", "analyze"}
    assert crossed["vacuum"]["threshold"] == 250 and crossed["analyze"]["threshold"] == 150
    assert describe_trigger(crossed["vacuum"]) == (
        "251 dead tuples > 250 = autovacuum_vacuum_threshold 50 (server) + autovacuum_vacuum_scale_factor 0.2 "
        "(server) x 1,000 rows"
    )


def test_reloptions_come_before_the_servers_settings():
    options = {"autovacuum_vacuum_scale_factor": "0.01", "autovacuum_analyze_threshold": "5"}
    # vacuum at 50 + 0.01 x 10,000 = 150 dead (the server's 0.2 would say 2,050); analyze at 5 + 0.1 x 10,000 = 1,005
    assert _triggers(_counts(dead=150, modified=1005), 10_000, options) == {}
    crossed = _triggers(_counts(dead=151, modified=1006), 10_000, options)
    assert crossed["vacuum"]["threshold"] == 150
    assert crossed["vacuum"]["from"] == {
        "autovacuum_vacuum_threshold": "server",
        "autovacuum_vacuum_scale_factor": "table",
    }
    assert crossed["analyze"]["threshold"] == 1005 and "autovacuum_analyze_threshold 5 (table)" in describe_trigger(
        crossed["analyze"]
    )


def test_never_analyzed_counts_as_no_rows_and_a_negative_insert_threshold_is_off():
    crossed = _triggers(_counts(dead=51, inserted=5000), -1, {"autovacuum_vacuum_insert_threshold": "-1"})
    assert set(crossed) == {"vacuum"} and crossed["vacuum"]["threshold"] == 50


def test_postgresql_18_caps_the_dead_tuple_trigger():
    # 0.2 x 1 billion rows = 200 million, capped at autovacuum_vacuum_max_threshold = 100 million
    crossed = _triggers(_counts(dead=100_000_001), 1e9, settings=PG18)
    assert crossed["vacuum"]["threshold"] == 100_000_000
    assert describe_trigger(crossed["vacuum"]).endswith("(autovacuum_vacuum_max_threshold)")
    assert _triggers(_counts(dead=100_000_001), 1e9, settings=PG15) == {}


def test_past_a_trigger_autovacuum_gets_its_days_of_grace_unless_it_will_never_come():
    on = {**PG15, "autovacuum": "on", "track_counts": "on"}
    assert why_not_processed({}, on) is None
    assert why_not_processed({"autovacuum_enabled": "false"}, on) == "autovacuum_enabled = false"
    assert why_not_processed({}, {**on, "autovacuum": "off"}) == "autovacuum = off"
    day = 86400
    assert not overdue(3600, 30 * day, 1, None)  # vacuumed an hour ago: autovacuum's next round will do
    assert overdue(2 * day, 30 * day, 1, None)  # two days past: autovacuum is starved or blocked
    assert not overdue(None, 600, 1, None)  # never vacuumed, statistics 10 minutes old: no evidence yet
    assert overdue(None, 2 * day, 1, None)
    assert overdue(60, 600, 1, "autovacuum = off")  # nothing will ever vacuum it


def test_unused_indexes_rank_by_writes_then_size():
    rows = [
        {"schema": "public", "index": "big_static", "table_writes": 0, "index_bytes": 10 << 30},
        {"schema": "public", "index": "small_hot", "table_writes": 5000, "index_bytes": 16384},
        {"schema": "public", "index": "medium_hot", "table_writes": 5000, "index_bytes": 1 << 20},
        {"schema": "public", "index": "locked", "table_writes": 0, "index_bytes": None},
    ]
    assert [r["index"] for r in sorted(rows, key=unused_cost_order)] == [
        "medium_hot",
        "small_hot",
        "big_static",
        "locked",
    ]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (180, "3 minutes"),
        (5 * 3600, "5 hours"),
        (7 * 86400, "7 days"),
        (2.5 * 86400, "2.5 days"),
        (12.4 * 86400, "12 days"),
    ],
)
def test_age_words(seconds, words):
    assert age_words(seconds) == words


def test_size_words():
    assert [size_words(n) for n in (0, 8192, 81920, 1.5 * 2**20, 12 * 2**30, None)] == [
        "0 bytes",
        "8 KB",
        "80 KB",
        "1.5 MB",
        "12 GB",
        "size unknown",
    ]


def _index_finding(check, severity, index, table, index_bytes, **evidence) -> dict:
    return {
        "check": check,
        "severity": severity,
        "object": f"public.{index}",
        "evidence": {
            "schema": "public",
            "index": index,
            "table": f"public.{table}",
            "index_bytes": index_bytes,
            **evidence,
        },
        "recommendation": "Drop it.",
        "sql": "DROP INDEX CONCURRENTLY ...",
    }


def test_digest_groups_by_table_worst_first_one_line_per_check():
    findings = [
        _index_finding("unused_indexes", "info", "log_idx", "log", 8192, table_writes=0, statistics_age_s=8 * 86400),
        _index_finding("duplicate_indexes", "warning", "idx_dag_run_dag_id", "dag_run", 16384, table_writes=3),
        _index_finding("duplicate_indexes", "warning", "idx_dag_run_state", "dag_run", 65536, table_writes=3),
        _index_finding("duplicate_indexes", "warning", "idx_tiny", "tiny", 8192, table_writes=0),
        {
            "check": "autovacuum_blocked",
            "severity": "warning",
            "object": "server",
            "evidence": {"settings": {"autovacuum": "off"}, "dead_tuples": 12, "tables_past_a_trigger": []},
            "recommendation": "Turn it back on.",
            "sql": "ALTER SYSTEM SET autovacuum = on",
        },
        {
            "check": "connections",
            "severity": "critical",
            "object": "server",
            "evidence": {"connections": 99},
            "recommendation": "No connection slot left. Raise max_connections.",
            "sql": None,
        },
    ]
    groups = digest(findings)
    assert [g["subject"] for g in groups] == ["server", "public.dag_run", "public.tiny", "public.log"]
    server, dag_run, tiny, log = groups
    assert [(x["severity"], x["text"]) for x in server["lines"]] == [
        ("critical", "No connection slot left"),
        ("warning", "autovacuum = off: 12 dead tuples wait, 0 tables past a trigger autovacuum would act on"),
    ]
    assert [x["text"] for x in dag_run["lines"]] == [
        "2 redundant indexes (80 KB); each write to dag_run updates 2 more indexes than it needs"
    ]
    assert (
        tiny["lines"][0]["text"] == "1 redundant index (8 KB); each write to tiny updates one more index than it needs"
    )
    assert log["severity"] == "info"
    assert log["lines"][0]["text"] == "1 unused index (8 KB): no scan in 8 days of statistics, no writes to log"


def test_digest_falls_back_to_the_recommendation_for_evidence_it_cannot_read():
    [group] = digest(
        [
            {
                "check": "bloat",
                "severity": "warning",
                "object": "public.orders",
                "evidence": "dead tuples 40%",
                "recommendation": "VACUUM the table.",
                "sql": None,
            }
        ]
    )
    assert group["lines"] == [{"check": "bloat", "severity": "warning", "count": 1, "text": "VACUUM the table"}]
