"""The report reads top-down: verdict and cause, changes vs baseline, thresholds, charts, DB, details."""

import json

import pytest

from include.perfpipe.reporting import render_report
from include.perfpipe.reporting.statements import statements_view
from tests.unit.reporting import synthetic

OWN = "SELECT relname, n_live_tup FROM pg_stat_user_tables"


def _statement(i: int, query: str, total_ms: float) -> dict:
    return {
        "queryid": 7_000_000_000_000 + i,
        "query": query,
        "calls": 10,
        "total_ms": total_ms,
        "mean_ms": total_ms / 10,
        "rows": 10,
        "shared_blks_hit": 1,
        "shared_blks_read": 0,
        "share_pct": 1.0,
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    bundle = synthetic.bundle(fail=False)
    bundle["database"]["statements_delta"] = [
        _statement(0, OWN, 900.0),
        _statement(1, "VACUUM (ANALYZE) items", 800.0),
    ] + [_statement(i, f"SELECT * FROM items WHERE id = {i}", 100.0 + i) for i in range(2, 16)]
    bundle["baseline"] = synthetic.baseline_row(
        is_baseline=False, duration_s=bundle["loadtest"]["duration_s"] * 3, requests=2100
    )
    bundle["regression"] = {
        "baseline_found": True,
        "change_points": [],
        "trend": [],
        "gate": {"regressed": True, "reason": "1 significant regression(s): total p95_ms +30 %"},
        "counts": {"regression": 1, "improvement": 0, "unchanged": 4},
        "comparison": [
            {
                "scope": "total",
                "name": "all",
                "class_name": "all",
                "metric": "p95_ms",
                "baseline": 40.0,
                "current": 52.0,
                "change_pct": 30.0,
                "p_value": 0.001,
                "significant": True,
                "direction": "regression",
            }
        ],
    }
    paths = render_report(bundle, tmp_path_factory.mktemp("order"))
    return paths["html"].read_text(), json.loads(paths["json"].read_text())


def test_sections_come_in_reading_order(report):
    html, _ = report
    marks = [
        'id="verdict"',
        'id="changes"',
        "Per class and endpoint against thresholds",
        'id="chart-throughput"',
        "Database findings",
        "<h2>Details</h2>",
    ]
    positions = [html.index(m) for m in marks]
    assert positions == sorted(positions)
    assert html.index('id="significant"') < html.index("Per class and endpoint")  # the changed metric, up front


def test_statements_hide_perfpipe_queries_and_fold_the_rest(report):
    html, _ = report
    assert "pg_stat_user_tables" not in html and "VACUUM (ANALYZE) items" not in html
    assert "2 of perfpipe's own monitoring and maintenance statements hidden" in html
    shown, folded = html.split('id="more-statements"')
    assert "WHERE id = 15" in shown and "WHERE id = 2<" not in shown and "WHERE id = 2<" in folded


def test_query_ids_are_identifiers(report):
    html, _ = report
    assert "<code>7000000000015</code>" in html and "7,000,000,000,015" not in html


def test_counts_are_not_compared_across_durations(report):
    _, summary = report
    metrics = summary["baseline"]["metrics"]
    assert metrics["requests"]["comparable"] is False and metrics["requests"]["delta_pct"] is None
    assert metrics["errors"]["delta_pct"] is None
    assert metrics["rps"]["comparable"] is True and metrics["rps"]["delta_pct"] is not None


def test_chart_axes_start_at_zero(report):
    html, _ = report
    throughput, latency = html.split('id="chart-throughput"')[1], html.split('id="chart-latency"')[1]
    assert '"rangemode":"tozero"' in throughput.split("</script>")[0]
    assert '"rangemode":"tozero"' in latency.split("</script>")[0]


def test_without_a_comparable_baseline_the_report_says_why(tmp_path):
    bundle = synthetic.bundle(fail=False)
    bundle["baseline_note"] = (
        "no comparable baseline: the 1 earlier run(s) of this target and profile have a different stage plan"
    )
    html = render_report(bundle, tmp_path)["html"].read_text()
    assert 'id="no-baseline"' in html and "no comparable baseline: the 1 earlier run(s)" in html


def test_statements_view_orders_by_total_time():
    rows = [_statement(1, "SELECT 1 FROM a", 5.0), _statement(2, "SELECT 1 FROM b", 50.0), _statement(3, OWN, 99.0)]
    view = statements_view(rows, top=1)
    assert [r["queryid"] for r in view["shown"]] == [7_000_000_000_002]
    assert [r["queryid"] for r in view["folded"]] == [7_000_000_000_001] and view["hidden_own"] == 1
