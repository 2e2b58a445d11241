"""k6's thresholds: read from one k6's summary export, judged again over merged shards, joined to our verdict."""

import math

import pandas as pd
import pytest

from include.perfpipe.custom_metrics import CustomMetrics
from include.perfpipe.k6.figures import evaluate
from include.perfpipe.k6.summary import expressions, judge, k6_rows
from include.perfpipe.loadtest.journey.stats import JourneyStats
from include.perfpipe.loadtest.result import LoadResult
from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.validation.gx_checkpoint import RESULT_COLUMNS
from include.perfpipe.validation.result import ValidationResult
from include.perfpipe.validation.verdict import Verdict

THRESHOLDS = {
    "http_req_duration": ["p(95)<35", {"threshold": "avg<1000", "abortOnFail": True}],
    "http_req_duration{scenario:buyers}": ["max<=20"],
    "http_req_duration{expected_response:true}": ["p(90)<100"],
    "http_req_duration{method:GET}": ["p(90)<100"],
    "http_req_failed": ["rate<0.3"],
    "http_reqs": ["count>=4"],
    "checks": ["rate>0.9"],
    "orders": ["count==3"],
    "wait": ["p(50)<150", "med<150"],
}


def merged_result() -> LoadResult:
    shoppers, buyers = MetricsRecorder("shoppers"), MetricsRecorder("buyers")
    for ms in (10, 20, 30):
        shoppers.record("browse", "api", ms / 1000, True, 200, 0.5)
    buyers.record("pay", "api", 0.040, False, 500, 0.5)
    journey = JourneyStats(CustomMetrics({"orders": "counter", "wait": "trend"}))
    journey.checks.add("ok", True)
    journey.checks.add("ok", False)
    for value in (100, 200, 300):
        journey.metrics.add("wait", value, 0.5)
    for _ in range(3):
        journey.metrics.add("orders", 1, 0.5)
    metrics = MetricsRecorder.merge([shoppers, buyers])
    return LoadResult({}, "t0", "t1", 2.0, metrics, [], {}, journey=journey)


def test_expressions_of_strings_and_objects():
    assert expressions({"a": ["p(95)<1", {"threshold": "rate<0.1", "abortOnFail": True}], "b": "count>1"}) == [
        ("a", "p(95)<1"),
        ("a", "rate<0.1"),
        ("b", "count>1"),
    ]


def test_several_shards_are_judged_over_the_merged_result():
    crossed_by_a_shard = {"metrics": {"http_req_duration{method:GET}": {"thresholds": {"p(90)<100": True}}}}
    rows = {r["metric"]: r for r in k6_rows(THRESHOLDS, [crossed_by_a_shard, {}], merged_result())}
    observed = {name: r["observed"] for name, r in rows.items()}
    assert observed["http_req_duration p(95)"] == pytest.approx(40.0, rel=1e-2)
    assert not rows["http_req_duration p(95)"]["success"] and rows["http_req_duration avg"]["success"]
    assert rows["http_req_duration{scenario:buyers} max"]["success"] is False  # only pay: 40 ms
    assert observed["http_req_failed rate"] == 0.25 and rows["http_req_failed rate"]["success"]
    assert observed["http_reqs count"] == 4 and observed["checks rate"] == 0.5 and not rows["checks rate"]["success"]
    assert observed["orders count"] == 3 and rows["orders count"]["success"]
    assert observed["wait p(50)"] == pytest.approx(200, rel=1e-2) and not rows["wait med"]["success"]
    kept = rows["http_req_duration{method:GET} p(90)"]
    assert kept["class_name"].startswith("per shard") and not kept["success"]
    assert all(r["class_name"] == "global" for name, r in rows.items() if "method" not in name)
    assert observed["http_req_duration{expected_response:true} p(90)"] == pytest.approx(30.0, rel=1e-2)  # browse


def test_expected_response_is_exact_only_where_an_endpoint_had_one_outcome():
    result = merged_result()
    assert evaluate(result, "http_req_duration{expected_response:true}", "max") == pytest.approx(30.0, rel=1e-2)
    assert evaluate(result, "http_reqs{expected_response:false}", "count") == 1  # pay's one error
    result.metrics.scenario = "buyers"
    result.metrics.record("pay", "api", 0.005, True, 200, 0.5)  # pay now has both outcomes in one histogram
    assert math.isnan(evaluate(result, "http_req_duration{expected_response:true}", "max"))
    assert evaluate(result, "http_req_duration{expected_response:true,scenario:shoppers}", "count") == 3


def test_one_shard_keeps_k6s_own_verdict_and_figures():
    export = {"metrics": {"http_req_duration": {"p(95)": 61.5, "thresholds": {"p(95)<50": True, "avg<1000": False}}}}
    rows = k6_rows({"http_req_duration": ["p(95)<50", "avg<1000"]}, [export], merged_result())
    assert [(r["success"], r["class_name"]) for r in rows] == [(False, "k6"), (True, "k6")]
    assert rows[0]["observed"] == 61.5 and math.isnan(rows[1]["observed"])


def _validation(verdict: Verdict, reason: str) -> ValidationResult:
    return ValidationResult(verdict, reason, pd.DataFrame(columns=RESULT_COLUMNS))


def test_either_verdict_failing_fails_the_run():
    crossed = k6_rows({"http_reqs": ["count>100"]}, [{}, {}], merged_result())
    met = k6_rows({"http_reqs": ["count>1"]}, [{}, {}], merged_result())
    failed_by_k6 = judge(_validation(Verdict.PASS, "all 3 checks met"), crossed)
    assert failed_by_k6.verdict == Verdict.FAIL
    assert "k6 thresholds crossed: http_reqs count > 100" in failed_by_k6.reason
    failed_by_ours = judge(_validation(Verdict.FAIL, "latency p95 breached"), met)
    assert failed_by_ours.verdict == Verdict.FAIL and failed_by_ours.reason == "latency p95 breached"
    passed = judge(_validation(Verdict.PASS, "all 3 checks met"), met)
    assert passed.verdict == Verdict.PASS and passed.reason.endswith("all 1 k6 thresholds met")
    assert list(passed.results["suite"]) == ["k6"]


def test_group_durations_come_from_the_merged_group_histograms():
    result = merged_result()
    for name, ms in (("shop", 10), ("shop", 30), ("cart", 50)):
        result.journey.record_group(name, ms / 1000, True, 0.5)
    assert evaluate(result, "group_duration", "max") == pytest.approx(50.0, rel=1e-2)
    assert evaluate(result, "group_duration{group:::shop}", "p(99)", "99") == pytest.approx(30.0, rel=1e-2)
    assert evaluate(result, "group_duration", "count") == 3
    assert math.isnan(evaluate(result, "group_duration{scenario:x}", "max"))
