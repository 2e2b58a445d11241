"""Custom metrics on the engine: declared in the scenario, fed by YAML steps and Python journeys,
merged exactly across shards. Runs are 1 s against a loopback API and judged by what the server saw."""

import re
import textwrap
from collections import Counter

import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.loadtest.journey.models import ScenarioFile
from include.perfpipe.loadtest.result import LoadResult, merge_results
from tests.unit.loadtest.journey.server import JourneyServer

ORDERS = """
metrics:
  orders_created: {type: counter, thresholds: {count: ">= 1"}}
  order_id: {type: trend}
  order_ms: {type: trend, unit: ms, thresholds: {p95: "< 2s"}}
  has_items: {type: rate, thresholds: {rate: "> 99%"}}
  last_order: {type: gauge}
journey:
  setup:
    - {name: login, method: POST, path: /login, json: {user: u1}, extract: {token: $.token}}
  headers: {Authorization: "Bearer {{ token }}"}
  steps:
    - name: list
      path: /items
      metrics: {has_items: {json: "$[0].id"}}
    - name: order
      method: POST
      path: /orders
      json: {item_id: 11}
      expect_status: 201
      metrics:
        orders_created: 1
        order_id: $.id
        order_ms: {duration: true}
        last_order: {json: $.id}
"""


@pytest.fixture
def server():
    with JourneyServer() as srv:
        yield srv


def _spec(server, tmp_path, text, vus=3):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return load_spec("smoke", server.url(""), path, overrides={"vus": vus, "duration": "1s"})


def _orders_made(server) -> int:
    return sum(1 for method, path, _, _ in server.log if method == "POST" and path == "/orders")


def _assert_every_order_recorded(server, results: list[LoadResult]) -> int:
    """Every POST /orders the server got is a 201 the run recorded (none cut by the drain, none
    failed), step by step, so a miss names where it went; the orders made."""
    made = _orders_made(server)
    recorded = sum(r.metrics.endpoints[(r.metrics.scenario, "order")].count for r in results)
    cut = sum(r.health["interrupted"] for r in results)
    assert (recorded, cut) == (made, 0), "the server answered orders the run did not record"
    statuses = Counter()
    for r in results:  # a status read back from JSON is a string
        statuses.update({str(k): n for k, n in r.metrics.endpoints[(r.metrics.scenario, "order")].statuses.items()})
    assert statuses == {"201": made}
    return made


def test_yaml_steps_feed_counter_trend_rate_and_gauge(server, tmp_path):
    result = run_load_test(_spec(server, tmp_path, ORDERS), processes=1)
    frame = result.metrics_frame().set_index("name")
    made = _assert_every_order_recorded(server, [result])
    assert made > 0
    assert frame.loc["orders_created", "count"] == made
    assert frame.loc["order_id", "count"] == made
    assert frame.loc["order_id", "max"] == max(server.orders)  # ids come from the responses
    assert frame.loc["order_id", "min"] == min(server.orders)
    assert frame.loc["has_items", "rate"] == 1.0
    assert frame.loc["last_order", "max"] == max(server.orders)
    assert 0 < frame.loc["order_ms", "p95"] < 2000
    summary = result.summary()["journey"]["metrics"]
    assert summary["orders_created"] == {
        "kind": "counter",
        "unit": None,
        "count": made,
        "rate": pytest.approx(made / result.duration_s),
        "invalid": 0,
    }


def test_a_trend_and_a_counter_merged_across_two_shards_equal_one_process(server, tmp_path):
    spec = _spec(server, tmp_path, ORDERS, vus=4)
    parts = [
        LoadResult.from_dict(run_load_test(spec, processes=1, shard_index=i, shard_count=2).to_dict()) for i in range(2)
    ]
    _assert_every_order_recorded(server, parts)
    merged = merge_results(parts).metrics_frame().set_index("name")
    ids = sorted(server.orders)
    assert merged.loc["orders_created", "count"] == len(ids) == _orders_made(server)
    # one recorder given every id the two shards saw holds the same trend, percentiles included
    from include.perfpipe.custom_metrics import CustomMetrics

    single = CustomMetrics({"order_id": "trend"})
    for order in ids:
        single.add("order_id", order, 0.0)
    expected = single.frame(1.0).set_index("name").loc["order_id"]
    for column in ("count", "min", "mean", "p50", "p90", "p95", "p99", "p999", "max"):
        assert merged.loc["order_id", column] == pytest.approx(expected[column]), column
    assert all(p.journey.metrics.metrics["orders_created"].total > 0 for p in parts)  # both shards recorded


def test_a_step_answered_after_the_end_of_the_run_is_recorded_and_feeds_its_metrics(server, tmp_path):
    """Each VU sends at 0 and 0.6 s; the second answer comes at 1.2 s, after the 1 s run: the drain
    waits for it, and it is recorded and fed like any other."""
    text = """
    metrics:
      slept: {type: counter}
      slept_ms: {type: trend, unit: ms}
    journey:
      steps:
        - {name: slow, path: /sleep/600, metrics: {slept: 1, slept_ms: {duration: true}}}
    """
    result = run_load_test(_spec(server, tmp_path, text, vus=2), processes=1)
    sent = server.hits["/sleep/600"]
    slow = result.metrics.endpoints[(result.metrics.scenario, "slow")]
    metrics = result.journey.metrics.metrics
    assert (slow.count, dict(slow.statuses), result.health["interrupted"]) == (sent, {200: sent}, 0)
    assert metrics["slept"].total == metrics["slept_ms"].samples == sent == 4
    assert metrics["slept"].seconds[1][0] == 2  # the two answers after the end, fed at second 1
    assert metrics["slept_ms"].high >= 600


def test_a_python_journey_feeds_metrics_through_vu_metric(server, tmp_path):
    text = """
    metrics:
      orders_created: {type: counter}
      order_id: {type: trend}
      big_order: {type: rate}
      last_order: {type: gauge}
      checkout_ms: {type: trend, unit: ms, group: checkout}
    journey: tests.unit.loadtest.journey.metric_journeys:orders
    """
    result = run_load_test(_spec(server, tmp_path, text, vus=2), processes=1)
    frame = result.metrics_frame().set_index("name")
    made = _orders_made(server)
    assert made > 0 and frame.loc["orders_created", "count"] >= made - 2  # a VU may be cut off mid-iteration
    assert frame.loc["checkout_ms", "count"] >= frame.loc["orders_created", "count"]
    assert frame.loc["big_order", "rate"] == pytest.approx(sum(1 for o in server.orders if o > 5) / made, abs=0.05)
    assert frame.loc["last_order", "value"] <= max(server.orders)


@pytest.mark.parametrize(
    ("metrics", "steps", "message"),
    [
        ("{}", "{orders: 1}", "metrics ['orders'] are not declared"),
        ("{orders: {type: counter, thresholds: {p95: '< 1'}}}", "{}", "a counter has count, rate"),
        ("{orders: {type: counter, thresholds: {count: '1000'}}}", "{}", "expected '<op> <limit>'"),
        ("{t: {type: trend, thresholds: {p95: '< 8ms'}}}", "{}", "unknown unit for a number metric; use a bare number"),
        ("{r: {type: rate, thresholds: {rate: '> 2'}}}", "{}", "a ratio is a fraction"),
        ("{orders: {type: histogram}}", "{}", "orders.type"),
        ("{orders: {type: counter, group: pay}}", "{}", "only a trend takes a group"),
        ("{orders: {type: counter}}", "{orders: {json: $.id, value: 2}}", "give exactly one of value"),
        ("{t: {type: trend, thresholds: {p95: {limit: '< 1', abort: true}}}}", "{}", "abort_delay}, got keys"),
    ],
)
def test_bad_metric_declarations_and_feeds_are_refused_by_name(metrics, steps, message):
    import yaml

    raw = yaml.safe_load(f"metrics: {metrics}\nendpoints: [{{path: /, metrics: {steps}}}]")
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ScenarioFile.model_validate(raw)


def test_an_abort_on_fail_metric_threshold_stops_the_run_after_its_delay(server, tmp_path):
    text = """
    metrics:
      order_ms: {type: trend, unit: ms, thresholds: {p95: {limit: "< 0.001ms", abort_on_fail: true, abort_delay: 2s}}}
      orders_created: {type: counter, thresholds: {count: ">= 1000000"}}
    journey:
      steps:
        - {name: order, method: POST, path: /orders, json: {item_id: 11}, expect_status: 201,
           metrics: {order_ms: {duration: true}, orders_created: 1}, think_time: 20ms}
    """
    spec = load_spec("smoke", server.url(""), _write(tmp_path, text), overrides={"vus": 2, "duration": "8s"})
    result = run_load_test(spec, processes=1)
    assert result.aborted
    assert "metric order_ms p95" in result.abort_reason and "suite metrics" in result.abort_reason
    at = int(re.search(r" at (\d+) s", result.abort_reason).group(1))
    seconds = {int(t) for t in result.journey.metrics.metrics["order_ms"].seconds}
    assert 2 <= at < 5 and max(seconds) <= at  # judged from 2 s on, stopped at once; the counter never aborts


def _write(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path
