"""Pure logic of the checks: covering indexes, bloat arithmetic, sequence limits, pg_stat_statements
column mapping and deltas, benchmark query normalisation, the apply allowlist."""

from __future__ import annotations

import re

import pytest

from include.perfpipe.database.benchmark import load_queries, normalise_queries, query_label
from include.perfpipe.database.bloat import estimate_bloat, expected_btree_pages, expected_table_pages
from include.perfpipe.database.indexes import covering_index
from include.perfpipe.database.maintenance import planned_action
from include.perfpipe.database.statements import column_map, statements_delta, top_queries
from include.perfpipe.database.wraparound import sequence_limit


def _index(oid, keys, **kw):
    base = {
        "oid": oid,
        "indrelid": 1,
        "keys": keys,
        "opclasses": [10] * len(keys),
        "collations": [0] * len(keys),
        "method": "btree",
        "predicate": "",
        "has_include": False,
        "has_expressions": False,
        "is_unique": False,
        "is_primary": False,
        "backs_constraint": False,
    }
    return {**base, **kw}


def test_prefix_index_is_covered_by_the_wider_one():
    assert covering_index(_index(1, [1]), _index(2, [1, 2]))
    assert not covering_index(_index(2, [1, 2]), _index(1, [1]))
    assert not covering_index(_index(1, [2]), _index(2, [1, 2]))  # not a leading prefix


@pytest.mark.parametrize(
    "other",
    [
        _index(2, [1, 2], method="hash"),
        _index(2, [1, 2], predicate="(c > 0)"),
        _index(2, [1, 2], opclasses=[11, 10]),
        _index(2, [1, 2], indrelid=9),
        _index(2, [1, 2], has_expressions=True),
    ],
)
def test_different_method_predicate_opclass_or_table_is_not_a_duplicate(other):
    assert not covering_index(_index(1, [1]), other)


def test_unique_and_constraint_indexes_are_kept():
    assert not covering_index(_index(1, [1], is_unique=True), _index(2, [1, 2]))
    assert not covering_index(_index(1, [1], backs_constraint=True), _index(2, [1, 2]))
    assert covering_index(_index(1, [1]), _index(2, [1], is_unique=True))  # same keys, the other is unique


def test_identical_twins_report_only_the_newer():
    older, newer = _index(1, [1, 2]), _index(2, [1, 2])
    assert covering_index(newer, older) and not covering_index(older, newer)


def test_bloat_arithmetic():
    assert estimate_bloat(100, 25, 8192) == (75 * 8192, 75.0)
    assert estimate_bloat(10, 20, 8192) == (0, 0.0)
    # 1000 rows of 8 data bytes, no nulls: 24 (aligned header) + 8 + 4 = 36 B each, 226 per page
    assert expected_table_pages(1000, 8, 2, False, 100, 8192) == 5
    assert expected_table_pages(0, 8, 2, False, 100, 8192) == 0
    # 10,000 int4 keys: align(8 + 4) + 4 = 20 B, 366 per 90 %-full leaf page, + metapage
    assert expected_btree_pages(10_000, 4, False, 90, 8192) == 1 + 28


def test_sequence_limit_is_the_nearer_of_sequence_and_column_bounds():
    assert sequence_limit(1, 1, 9223372036854775807, "integer") == 2147483647
    assert sequence_limit(1, 1, 1000, "bigint") == 1000
    assert sequence_limit(1, 1, 32767, None) == 32767
    assert sequence_limit(-1, -2147483648, -1, "integer") == -2147483648


def test_column_map_follows_the_view_version():
    pg15 = {
        "calls",
        "rows",
        "total_exec_time",
        "total_plan_time",
        "blk_read_time",
        "blk_write_time",
        "shared_blks_hit",
        "shared_blks_read",
        "temp_blks_written",
    }
    pg17 = (pg15 - {"blk_read_time", "blk_write_time"}) | {"shared_blk_read_time", "shared_blk_write_time"}
    assert column_map(pg15)["blk_read_ms"] == "blk_read_time"
    assert column_map(pg17)["blk_read_ms"] == "shared_blk_read_time"
    assert column_map({"calls", "total_time"})["total_exec_ms"] == "total_time"
    assert column_map({"calls", "total_time"})["total_plan_ms"] is None


def _row(queryid, calls, total, query="q"):
    return {
        "userid": 10,
        "dbid": 5,
        "queryid": queryid,
        "toplevel": True,
        "query": query,
        "calls": calls,
        "rows": calls,
        "total_exec_ms": total,
        "total_plan_ms": 0.0,
        "shared_blks_hit": 0,
        "shared_blks_read": 0,
    }


def test_delta_counts_only_the_window_and_survives_resets():
    before = {"available": True, "rows": [_row(1, 100, 1000.0), _row(2, 50, 100.0), _row(3, 10, 10.0)]}
    after = {"available": True, "rows": [_row(1, 110, 1100.0), _row(2, 5, 400.0), _row(3, 10, 10.0), _row(4, 3, 30.0)]}
    delta = {d["queryid"]: d for d in statements_delta(before, after)}
    assert delta[1]["calls"] == 10 and delta[1]["total_ms"] == 100.0 and delta[1]["mean_ms"] == 10.0
    assert delta[2]["calls"] == 5 and delta[2]["total_ms"] == 400.0  # reset in between: counted in full
    assert 3 not in delta and delta[4]["calls"] == 3
    assert [d["queryid"] for d in statements_delta(before, after, top=2)] == [2, 1]
    assert round(sum(d["share_pct"] for d in delta.values())) == 100
    assert statements_delta({"available": False, "rows": []}, after) == []


def test_top_queries_rank_the_whole_window_by_total_and_by_mean():
    window = [
        {"queryid": 1, "total_ms": 900.0, "mean_ms": 1.0, "share_pct": 90.0},
        {"queryid": 2, "total_ms": 100.0, "mean_ms": 50.0, "share_pct": 10.0},
    ]
    ranked = top_queries(window, top=1)
    assert [q["queryid"] for q in ranked["by_total"]] == [1]
    assert [(q["queryid"], q["share_pct"]) for q in ranked["by_mean"]] == [(2, 10.0)]


def test_query_labels_and_normalisation():
    assert query_label("SELECT * FROM public.accounts WHERE id = 1") == "select_accounts"
    assert query_label("select 1") == "select"
    queries = normalise_queries(["SELECT 1;", "SELECT 2", {"name": "n", "sql": "SELECT 3", "weight": 2}])
    assert [(q["name"], q["sql"], q["weight"]) for q in queries] == [
        ("select", "SELECT 1", 1),
        ("select_2", "SELECT 2", 1),
        ("n", "SELECT 3", 2),
    ]
    with pytest.raises(ValueError, match=r"queries\[1\].weight"):
        normalise_queries(["SELECT 1", {"sql": "SELECT 2", "weight": 0}])
    with pytest.raises(ValueError, match="at least one"):
        normalise_queries([])


def test_only_online_index_changes_are_applicable():
    assert planned_action({"check": "unused_indexes", "sql": "DROP ...", "evidence": {}}) == "drop_index"
    assert planned_action({"check": "invalid_indexes", "sql": "REINDEX ...", "evidence": {}}) == "reindex_index"
    assert planned_action({"check": "invalid_indexes", "sql": "DROP ...", "evidence": {}}) == "drop_index"
    assert planned_action({"check": "seq_scans", "sql": None, "evidence": {}}) is None
    for check in ("index_advice", "fk_without_index"):  # only what the planner verified is applied
        assert (
            planned_action({"check": check, "sql": "CREATE ...", "evidence": {"status": "verified"}}) == "create_index"
        )
        assert planned_action({"check": check, "sql": "CREATE ...", "evidence": {"status": "unverified"}}) is None
    for manual in ("table_bloat", "sequence_exhaustion", "stale_vacuum", "idle_in_transaction"):
        assert planned_action({"check": manual, "sql": "X", "evidence": {}}) is None


def test_malformed_findings_are_refused_before_connecting():
    from include.perfpipe.database import apply_recommendations

    with pytest.raises(ValueError, match=r"findings\[1\]"):
        apply_recommendations(
            "postgresql://nowhere.invalid/x",
            [{"check": "c", "object": "o", "evidence": {}, "sql": None}, {"check": "c"}],
        )


def test_queries_file_is_read_and_normalised(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text("queries:\n  - SELECT 1 FROM t\n  - {name: two, sql: 'SELECT 2;', weight: 3}\n")
    assert load_queries(path) == [
        {"name": "select_t", "sql": "SELECT 1 FROM t", "weight": 1},
        {"name": "two", "sql": "SELECT 2", "weight": 3},
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("- SELECT 1\n", "expected a mapping with a `queries` list (got a list; line 1, column 1)"),
        ("queries: SELECT 1\n", "queries: expected a list of at least one query (got a string; line 1, column 10)"),
        ("queries:\n  - {sql: ''}\n", "queries[0]: expected SQL text"),
        ("queries: [\n", "not valid YAML at line 2, column 1"),
    ],
)
def test_bad_queries_file_names_the_file_field_and_line(tmp_path, text, message):
    path = tmp_path / "q.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        load_queries(path)
