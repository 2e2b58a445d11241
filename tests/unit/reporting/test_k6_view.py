"""A k6 run's report shows k6's own end-of-test summary beside our tables; an engine run shows none."""

from include.perfpipe.reporting import render_report
from include.perfpipe.reporting.k6_view import k6_view
from tests.unit.reporting import synthetic

EXPORT = {
    "metrics": {
        "http_req_duration": {"avg": 1.5, "med": 1.0, "p(95)": 3.25, "p(99)": 7.0, "thresholds": {"p(95)<2": True}},
        "checks": {"passes": 9, "fails": 1, "value": 0.9},
    }
}


def test_one_row_per_metric_with_k6s_figures_and_threshold_marks():
    [view] = k6_view({"k6_shard_0": {"exit_code": 99, "summary": EXPORT}, "spec": {}})
    assert view["title"] == "k6" and view["exit_code"] == 99
    checks, duration = view["metrics"]
    assert checks == {"name": "checks", "stats": "value=0.9, passes=9, fails=1", "thresholds": []}
    assert duration["stats"] == "avg=1.5, med=1, p(95)=3.25, p(99)=7"
    assert duration["thresholds"] == [{"threshold": "p(95)<2", "crossed": True}]
    two = k6_view({"k6_shard_1": {"exit_code": 0, "summary": {}}, "k6_shard_0": {"exit_code": 0, "summary": {}}})
    assert [v["title"] for v in two] == [f"k6 shard {i} of 2 (its execution segment only)" for i in (1, 2)]
    assert k6_view(synthetic.load_result()) == [] and k6_view(None) == []


def test_the_report_shows_the_summary_of_a_k6_run(tmp_path):
    bundle = synthetic.bundle()  # an engine run shows none: k6_view of its load is [] (above)
    bundle["loadtest"]["k6_shard_0"] = {"exit_code": 99, "summary": EXPORT}
    html = render_report(bundle, tmp_path / "k6")["html"].read_text()
    assert "k6 end-of-test summary" in html and "avg=1.5, med=1, p(95)=3.25, p(99)=7" in html
    assert "p(95)&lt;2 ✗" in html
