import json
import xml.etree.ElementTree as ET

import pytest

from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.reporting import render_report
from include.perfpipe.reporting.html import data_docs_href, safe_href
from tests.unit.reporting import synthetic
from tests.unit.reporting.synthetic import HOSTILE


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    bundle = synthetic.bundle()
    bundle["regression"] = {
        "baseline_found": True,
        "gate": {"regressed": True, "reason": f"1 significant regression(s) {HOSTILE}"},
        "counts": {"regression": 1, "improvement": 0, "unchanged": 4},
        "comparison": [
            {"scope": "class", "name": HOSTILE, "metric": "p95_ms", "change_pct": 30.0, "direction": "regression"}
        ],
        "change_points": [
            {
                "metric": "p95_ms",
                "class_name": "all",
                "index": 3,
                "run_id": bundle["run"]["run_id"],
                "direction": "regression",
                "before": 40.0,
                "after": 52.0,
                "change_pct": 30.0,
            }
        ],
        "trend": [],
    }
    bundle["baseline"] = synthetic.baseline_row(
        version="v0", is_baseline=True, started_at="2026-11-26T10:00:00+00:00", requests=700
    )
    bundle["history"] = [{**bundle["baseline"], "run_id": f"old-{i}"} for i in range(3)]
    out = tmp_path_factory.mktemp("report")
    return bundle, render_report(bundle, out)


def test_all_four_files_are_written(rendered):
    _, paths = rendered
    assert set(paths) == {"html", "markdown", "json", "junit"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())


def test_hostile_text_is_escaped_everywhere(rendered):
    _, paths = rendered
    html = paths["html"].read_text()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(" in html  # the text is shown, inert
    md = paths["markdown"].read_text()
    assert "<script>" not in md and r"\<script\>" in md
    ET.fromstring(paths["junit"].read_text())  # still well-formed XML


def test_html_is_self_contained_with_plotly_inlined_once(rendered):
    from plotly.offline import get_plotlyjs

    html = rendered[1]["html"].read_text()
    assert html.count(get_plotlyjs()[:200]) == 1
    # nothing fetched: no CDN, no stylesheet, not even a favicon request
    assert "<script src=" not in html and 'rel="stylesheet"' not in html and '<link rel="icon" href="data:,">' in html
    assert html.count('class="plotly-graph-div"') == 3  # throughput, latency, trend
    assert "suite not applied: capacity" in html
    assert "change: p95_ms regression" in html  # the change point is marked on the trend chart
    assert "ramp" in html and 'id="regression"' in html and "1 significant regression(s)" in html


def test_summary_json_numbers_come_from_the_recorder(rendered):
    bundle, paths = rendered
    summary = json.loads(paths["json"].read_text())
    stats = MetricsRecorder.from_dict(bundle["loadtest"]["metrics"]).stats_frame(bundle["loadtest"]["duration_s"])
    total = stats[stats["scope"] == "total"].iloc[0]
    assert summary["totals"]["requests"] == total["count"]
    assert summary["totals"]["p99_ms"] == total["p99_ms"]
    assert summary["verdict"] == {
        "verdict": "fail",
        "reason": bundle["validation"]["reason"],
        "regressions": 1,
        "headline": "FAIL · 1 regression vs baseline",
        "failed_task": None,
    }
    assert summary["thresholds_failed"] == 1
    assert summary["database"]["counts"] == {"critical": 1, "warning": 1, "info": 1}
    # the DBA's summary: by table, worst first, one line each (the recommendation where the check is unknown)
    assert [(g["subject"], g["severity"]) for g in summary["database"]["digest"]] == [
        (f"public.items{HOSTILE}", "critical"),
        ("public.orders", "warning"),
        ("public.idx_old", "info"),
    ]
    assert summary["database"]["digest"][1]["lines"][0]["text"] == "VACUUM the table"
    assert 'id="db-digest"' in paths["html"].read_text()
    assert summary["baseline"]["metrics"]["rps"]["baseline"] == 20.0
    assert [h["run_id"] for h in summary["history"]][-1] == bundle["run"]["run_id"]


def test_cells_mark_the_breached_threshold(rendered):
    summary = json.loads(rendered[1]["json"].read_text())
    api = next(r for r in summary["classes"] if r["class_name"] == "api")
    assert api["cells"]["p95_ms"]["status"] == "fail"
    assert api["cells"]["error_rate"]["status"] == "pass"
    endpoint = next(r for r in summary["endpoints"] if r["name"] == "get_item")
    assert endpoint["cells"]["p95_ms"]["advisory"] is True
    assert endpoint["cells"]["p95_ms"]["status"] == ("pass" if endpoint["p95_ms"] < 20.0 else "fail")


def test_junit_has_one_testcase_per_threshold(rendered):
    bundle, paths = rendered
    suite = ET.fromstring(paths["junit"].read_text())
    *cases, regression = suite.findall("testcase")
    assert len(cases) == len(bundle["validation"]["results"])
    assert [c.find("failure") is not None for c in cases] == [not r["success"] for r in bundle["validation"]["results"]]
    assert regression.get("name") == "no regression vs baseline"
    assert regression.find("failure").get("message").startswith("FAIL · 1 regression vs baseline: ")
    assert suite.get("failures") == str(sum(not r["success"] for r in bundle["validation"]["results"]) + 1)


def test_a_passing_run_that_regressed_says_so_in_every_file(tmp_path):
    bundle = synthetic.bundle(fail=False)
    bundle["regression"] = {
        "baseline_found": True,
        "comparison": [],
        "change_points": [],
        "trend": [],
        "gate": {"regressed": True, "reason": "2 significant regression(s): total p95_ms +30 %"},
        "counts": {"regression": 2, "improvement": 0, "unchanged": 3},
    }
    paths = render_report(bundle, tmp_path)
    assert "PASS · 2 regressions vs baseline" in paths["html"].read_text().split('id="verdict"')[1][:300]
    assert paths["markdown"].read_text().startswith("### ✅ perfpipe PASS · 2 regressions vs baseline: ")
    suite = ET.fromstring(paths["junit"].read_text())
    assert "PASS · 2 regressions vs baseline" in suite.find("testcase[@name='no regression vs baseline']/failure").get(
        "message"
    )
    assert json.loads(paths["json"].read_text())["verdict"]["regressions"] == 2


def test_a_failed_run_names_its_first_failed_task(tmp_path):
    bundle = {
        "run": synthetic.bundle()["run"],
        "loadtest": None,
        "validation": None,
        "database": None,
        "failure": {
            "task_id": "preflight",
            "map_index": -1,
            "error": "bad input: scenario: cannot read '/nonexistent.yaml'",
        },
    }
    paths = render_report(bundle, tmp_path)
    summary = json.loads(paths["json"].read_text())
    assert summary["verdict"]["verdict"] == "error"
    assert summary["verdict"]["reason"] == "task preflight failed: bad input: scenario: cannot read '/nonexistent.yaml'"
    assert "task preflight failed: bad input: scenario: cannot read" in paths["html"].read_text()


def test_invalid_run_gets_an_erroring_testcase(tmp_path):
    bundle = synthetic.bundle(fail=False)
    bundle["validation"]["verdict"], bundle["validation"]["reason"] = "invalid", "generator saturated"
    suite = ET.fromstring(render_report(bundle, tmp_path)["junit"].read_text())
    assert suite.get("errors") == "1"
    assert "generator saturated" in suite.find("testcase/error").get("message")


@pytest.mark.parametrize(
    "change, verdict, reason",
    [
        (
            lambda b: b.update(validation=None, loadtest={**b["loadtest"], "aborted": True, "abort_reason": "errors"}),
            "error",
            "aborted: errors",
        ),
        (lambda b: b.update(validation=None, loadtest=None), "fail", "1 critical"),
        (lambda b: b.update(validation=None, loadtest=None, database=None), "error", "no results"),
    ],
)
def test_verdict_without_validation(tmp_path, change, verdict, reason):
    bundle = synthetic.bundle()
    change(bundle)
    summary = json.loads(render_report(bundle, tmp_path)["json"].read_text())
    assert summary["verdict"]["verdict"] == verdict and reason in summary["verdict"]["reason"]
    assert "Regression analysis" not in render_report(bundle, tmp_path)["html"].read_text()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b["validation"].update(verdict="great"), "verdict.*'great'"),
        (lambda b: b["run"].update(run_id=""), "bundle.run.run_id"),
        (lambda b: b["database"]["findings"][0].update(severity="urgent"), r"findings\[0\].severity.*'urgent'"),
        (lambda b: b["loadtest"].pop("duration_s"), "bundle.loadtest.*'duration_s'"),
    ],
)
def test_bad_bundle_names_the_field(tmp_path, change, message):
    bundle = synthetic.bundle()
    change(bundle)
    with pytest.raises(ValueError, match=message):
        render_report(bundle, tmp_path)


def test_links_cannot_run_script(tmp_path):
    assert safe_href("javascript:alert(1)") == "#"
    assert safe_href("https://example.test/r") == "https://example.test/r"
    inside = tmp_path / "gx" / "index.html"
    assert data_docs_href(str(inside), tmp_path) == "gx/index.html"
    assert data_docs_href("/elsewhere/index.html", tmp_path) == "file:///elsewhere/index.html"


def test_trend_offers_each_class_p95_and_marks_class_change_points():
    from include.perfpipe.reporting.charts import trend_chart

    history = [{"run_id": f"r{i}", "p95_ms": 40.0 + i, "p99_ms": 50.0 + i, "rps": 20.0} for i in range(4)]
    regression = {
        "trend": [{"run_id": f"r{i}", "p95_ms": {"all": 40.0 + i, "api": 30.0 + 10 * (i >= 2)}} for i in range(4)],
        "change_points": [{"metric": "p95_ms", "class_name": "api", "run_id": "r2", "direction": "regression"}],
    }
    html = trend_chart(history, regression)
    assert '"name":"p95 api"' in html and '"visible":"legendonly"' in html
    assert "change: p95_ms (api) regression" in html
    assert '"name":"p95 all"' not in html  # the total is already the p95 line
