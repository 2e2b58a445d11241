"""A threshold on a custom metric, end to end: the loadtest CLI runs a journey whose counter misses its
threshold; the run fails, GX's Data Docs hold the check, and the rendered report shows it with the
metric and the checks' pass rates."""

import json
import textwrap

import pytest

from include.perfpipe.cli import main
from include.perfpipe.reporting import render_report
from tests.busy_machine import verdict_unless_busy
from tests.unit.loadtest.journey.server import JourneyServer

pytestmark = pytest.mark.integration

SCENARIO = """
metrics:
  orders_created: {type: counter, thresholds: {count: ">= 1000000"}}
  order_ms: {type: trend, unit: ms, thresholds: {p95: "< 10s"}}
journey:
  setup:
    - {name: login, method: POST, path: /login, json: {user: u1}, extract: {token: $.token}}
  headers: {Authorization: "Bearer {{ token }}"}
  steps:
    - {name: list, path: /items, checks: [{json: $, length: 3}, {json: $, length: 4}]}
    - name: order
      method: POST
      path: /orders
      json: {item_id: 11}
      expect_status: 201
      metrics: {orders_created: 1, order_ms: {duration: true}}
"""


def test_a_breached_custom_metric_threshold_fails_the_cli_run_and_shows_in_gx_data_docs(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFPIPE_CONFIG_DIRS", str(tmp_path))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(textwrap.dedent(SCENARIO))
    out = tmp_path / "run"
    with JourneyServer() as server:
        code = main(
            ["loadtest", "--target", server.url(""), "--scenario", str(scenario), "--vus", "2",
             "--duration", "1s", "--processes", "1", "--out", str(out)]
        )  # fmt: skip
        made = _orders(server)
    summary = json.loads((out / "summary.json").read_text())
    failed = verdict_unless_busy(summary["verdict"], summary["reason"], "fail")
    assert code == (1 if failed else 2), summary["reason"]  # exit 2: invalid
    assert "metrics orders_created count" in summary["reason"] or not failed
    results = {(r["class_name"], r["metric"]): r for r in summary["validation"]["results"] if r["suite"] == "metrics"}
    assert results[("orders_created", "count")]["observed"] == made > 0
    assert results[("orders_created", "count")]["success"] is False
    assert results[("order_ms", "p95")]["success"] is True
    assert summary["journey"]["metrics"]["orders_created"]["count"] == made
    docs = out / summary["validation"]["data_docs"]
    pages = "".join(p.read_text(errors="replace") for p in docs.parent.rglob("*.html"))
    assert "metrics.whole" in pages and "orders_created" in pages  # the suite and its row condition


def test_the_pipeline_judges_a_custom_metric_and_the_report_shows_it_with_check_pass_rates(tmp_path):
    from include.perfpipe.loadtest import LoadResult, load_spec, run_load_test
    from include.perfpipe.runs import judge_run
    from include.perfpipe.validation import load_thresholds

    scenario = tmp_path / "s.yaml"
    scenario.write_text(textwrap.dedent(SCENARIO))
    with JourneyServer() as server:
        spec = load_spec("smoke", server.url(""), scenario, overrides={"vus": 2, "duration": "1s"})
        load = json.loads(json.dumps(run_load_test(spec, processes=1).to_dict()))  # as an XCom carries it
        made = _orders(server)
    run = {"dag_id": "perf_smoke", "run_id": "r1", "profile": "smoke", "target": spec.target}
    thresholds = load_thresholds(profile="smoke", target=spec.target)
    validation = judge_run(LoadResult.from_dict(load), thresholds, tmp_path / "run").to_dict()
    verdict_unless_busy(validation["verdict"], validation["reason"], "fail")
    paths = render_report({"run": run, "loadtest": load, "validation": validation}, tmp_path / "run")
    html = paths["html"].read_text()
    assert 'id="custom-metrics"' in html and "orders_created" in html and "count &gt;= 1000000.0" in html
    assert "list: len($) == 4" in html and "0.00 %" in html  # the check that never passes, with its pass rate
    assert 'id="chart-custom-metrics"' in html and "orders_created (counter: added per second)" in html
    report = json.loads(paths["json"].read_text())
    metrics = {m["name"]: m for m in report["journey"]["metrics"]}
    assert metrics["orders_created"]["status"] == "fail" and metrics["orders_created"]["stats"]["count"] == made
    assert metrics["order_ms"]["status"] == "pass"
    checks = {c["check"]: c for c in report["journey"]["checks"]}
    assert checks["list: len($) == 3"]["pass_rate"] == 1.0 and checks["list: len($) == 4"]["passed"] == 0


def _orders(server) -> int:
    return sum(1 for method, path, _, _ in server.log if method == "POST" and path == "/orders")
