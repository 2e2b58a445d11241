"""Candidate indexes read from SQL by PostgreSQL's parser: filters, ranges, joins, ORDER BY under LIMIT,
sub-selects, CTEs, set operations and quoted identifiers; anything but a plain SELECT is refused."""

from __future__ import annotations

import pytest

from include.perfpipe.database.query_shapes import NotAnalyzable, Table, candidate_indexes, query_shape

ITEMS = Table(None, "items")


def _candidates(query: str, columns_of=None) -> set[tuple]:
    return {
        (c.table.schema, c.table.name, c.columns, c.descending)
        for c in candidate_indexes(query_shape(query, columns_of))
    }


def test_filter_and_sort_under_limit_gives_a_two_column_candidate():
    shape = query_shape("SELECT id FROM items WHERE category = $1 ORDER BY price DESC LIMIT $2")
    assert shape.parameters == {1: (ITEMS, "category"), 2: "limit"}
    assert _candidates("SELECT id FROM items WHERE category = $1 ORDER BY price DESC LIMIT $2") == {
        (None, "items", ("category",), (False,)),
        (None, "items", ("category", "price"), (False, False)),
    }


def test_sort_without_limit_is_no_candidate():
    assert _candidates("SELECT id FROM items WHERE category = $1 ORDER BY price") == {
        (None, "items", ("category",), (False,))
    }


def test_mixed_sort_directions_keep_desc_flags():
    assert (None, "t", ("a", "b", "c"), (False, False, True)) in _candidates(
        "SELECT * FROM t WHERE a = $1 ORDER BY b, c DESC LIMIT 5"
    )


def test_equality_then_range_and_between():
    found = _candidates("SELECT * FROM t WHERE a = $1 AND b = 3 AND c > $2 AND d BETWEEN $3 AND $4")
    assert {
        (None, "t", ("a", "b"), (False, False)),
        (None, "t", ("a", "b", "c"), (False,) * 3),
        (None, "t", ("d",), (False,)),
    } <= found


def test_join_keys_aliases_and_quoted_identifiers():
    found = _candidates(
        'SELECT i.id FROM "My Items" i JOIN public.orders o ON o."Item Id" = i.id WHERE i."Category" = $1'
    )
    assert {
        (None, "My Items", ("Category",), (False,)),
        (None, "My Items", ("id",), (False,)),
        ("public", "orders", ("Item Id",), (False,)),
    } <= found


def test_sub_selects_ctes_and_set_operations_are_read():
    found = _candidates(
        "WITH recent AS (SELECT a FROM x WHERE b >= $1) "
        "SELECT * FROM recent, y WHERE y.c = ANY($2) AND y.d IN (1, 2) AND y.e IN (SELECT f FROM z WHERE z.g = $3) "
        "UNION ALL SELECT 1 FROM (SELECT 1 FROM w WHERE 5 <= w.h) s"
    )
    assert {
        (None, "x", ("b",), (False,)),
        (None, "y", ("c", "d"), (False, False)),
        (None, "y", ("e",), (False,)),
        (None, "z", ("g",), (False,)),
        (None, "w", ("h",), (False,)),
    } <= found
    assert not any(name == "recent" for _, name, _, _ in found)  # a CTE, not a table


def test_correlated_sub_select_compares_with_the_outer_row():
    found = _candidates("SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM lines l WHERE l.order_id = o.id)")
    assert (None, "lines", ("order_id",), (False,)) in found


def test_what_no_plain_index_serves_is_left_out():
    found = _candidates(
        "SELECT * FROM t WHERE (a = $1 OR b = $2) AND lower(c) = $3 AND d::text = $4 AND e LIKE $5 AND f = g"
    )
    assert found == set()


def test_unqualified_columns_of_a_join_are_placed_by_the_catalog():
    query = "SELECT * FROM a JOIN b ON a.id = b.a_id WHERE status = $1"
    assert not any(c[2] == ("status",) for c in _candidates(query))
    columns = {"a": {"id"}, "b": {"a_id", "status"}}
    assert (None, "b", ("status",), (False,)) in _candidates(query, lambda t: columns[t.name])


@pytest.mark.parametrize(
    "query, message",
    [
        ("DELETE FROM t WHERE a = 1", "not a SELECT"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT * INTO t2 FROM t", "SELECT INTO"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "data-modifying"),
        ("SELECT * FROM t FOR UPDATE", "row locks"),
        ("SELEC oops", "does not parse"),
    ],
)
def test_anything_but_a_plain_select_is_refused(query, message):
    with pytest.raises(NotAnalyzable, match=message):
        query_shape(query)
