"""Custom metrics in the results store: saved with the load test (migration 0003), read back as the
baseline's ``metrics`` frame, and compared with a later run's by the regression stage."""

import pytest

from include.perfpipe.custom_metrics import CustomMetrics
from include.perfpipe.loadtest.journey.stats import JourneyStats
from include.perfpipe.regression.compare import compare_runs
from include.perfpipe.store import ResultsStore
from tests.unit.reporting import synthetic

pytestmark = pytest.mark.integration


def _load(orders: int, slow_ms: float) -> dict:
    metrics = CustomMetrics({"orders_created": "counter", "checkout": "trend"}, {"checkout": "ms"})
    for i in range(orders):
        metrics.add("orders_created", 1, i % 30)
        metrics.add("checkout", slow_ms + i % 10, i % 30)
    journey = JourneyStats(metrics)
    journey.iterations = orders
    return {**synthetic.load_result(), "journey": journey.to_dict()}


def test_custom_metrics_are_stored_and_compared_with_the_baseline(scratch_dsn):
    store = ResultsStore(scratch_dsn)
    store.migrate()
    run = {"dag_id": "perf_load", "run_id": "base", "profile": "smoke", "target": "demo"}
    store.save_bundle({"run": run, "loadtest": _load(300, 100.0)}, "pass", "ok", shape=None)
    store.save_bundle({"run": run, "loadtest": _load(300, 100.0)}, "pass", "ok", shape=None)  # a retry: replaced
    rows = store.stage_rows("perf_load", "base", "custom_metrics")
    assert sorted(r["name"] for r in rows) == ["checkout", "orders_created"]
    baseline = store.run_frames("perf_load", "base")
    stored = baseline["metrics"].set_index("name")
    assert stored.loc["orders_created", "count"] == 300 and stored.loc["checkout", "unit"] == "ms"

    comparison = compare_runs(baseline, _load(150, 200.0))
    metric = comparison[comparison["scope"] == "metric"].set_index(["name", "metric"])
    assert metric.loc[("orders_created", "count"), "baseline"] == 300
    assert metric.loc[("orders_created", "count"), "current"] == 150
    assert metric.loc[("orders_created", "count"), "change_pct"] == pytest.approx(-50.0)
    assert metric.loc[("checkout", "p95"), "current"] > metric.loc[("checkout", "p95"), "baseline"] >= 100
    assert set(metric.reset_index()["metric"]) >= {"count", "rate", "p95", "mean"}
