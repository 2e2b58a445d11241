"""A k6 run's report shows k6's own end-of-test summary beside our tables; an engine run shows none."""

from include.perfpipe.loadtest.result import LoadResult
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
    assert k6_view(synthetic.load_result()) == [] and k6_view(None) == []


def test_a_sharded_run_shows_the_whole_run_merged_then_each_shard():
    """The whole run's entry is k6-summary.json's merged export: counts summed, p(95) the merged histogram's."""
    load = synthetic.load_result()
    shard = {"metrics": {"http_reqs": {"count": 7, "rate": 1.0}, "http_req_duration": {"p(95)": 0.001}}}
    load |= {"k6_shard_1": {"exit_code": 99, "summary": shard}, "k6_shard_0": {"exit_code": 0, "summary": shard}}
    whole, first, second = k6_view(load)
    assert whole["title"] == "k6, the whole run: 2 shards merged exactly" and whole["exit_code"] == "0, 99"
    rows = {m["name"]: m["stats"] for m in whole["metrics"]}
    p95 = LoadResult.from_dict(load).stats_frame().set_index("name").loc["all", "p95_ms"]
    assert rows["http_reqs"] == f"count=14, rate={14 / load['duration_s']:.4g}"
    assert rows["http_req_duration"] == f"p(95)={p95:.4g}" and p95 > 1
    assert [first["title"], second["title"]] == [f"k6 shard {i} of 2 (its execution segment only)" for i in (1, 2)]


def test_the_report_shows_the_summary_of_a_k6_run(tmp_path):
    bundle = synthetic.bundle()  # an engine run shows none: k6_view of its load is [] (above)
    bundle["loadtest"]["k6_shard_0"] = {"exit_code": 99, "summary": EXPORT}
    html = render_report(bundle, tmp_path / "k6")["html"].read_text()
    assert "k6 end-of-test summary" in html and "avg=1.5, med=1, p(95)=3.25, p(99)=7" in html
    assert "p(95)&lt;2 ✗" in html
