"""Shards' results merge exactly: the same frames a single generator recording everything would give."""

import json
import random

import pandas as pd

from include.perfpipe.loadtest import LoadResult, merge_results
from include.perfpipe.metrics import MetricsRecorder


def _recorders(seed: int):
    rng = random.Random(seed)
    shards, whole = [MetricsRecorder(), MetricsRecorder(), MetricsRecorder()], MetricsRecorder()
    for i in range(6000):
        name, class_name = rng.choice([("get", "api"), ("health", "health"), ("tool", "tool")])
        latency, elapsed = rng.lognormvariate(-4, 1), rng.uniform(0, 20)
        ok, status = (True, 200) if rng.random() > 0.05 else (False, rng.choice([500, "ReadTimeout"]))
        for rec in (shards[i % 3], whole):
            rec.record(name, class_name, latency, ok, status, elapsed)
        if i % 97 == 0:
            for rec in (shards[i % 3], whole):
                rec.record_dropped(name, class_name, elapsed)
    for t in range(20):
        for k, rec in enumerate(shards):
            rec.set_active_vus(t, 10 + k)
        whole.set_active_vus(t, 33)
    shards[0].seal_before(10)
    return shards, whole


def _result(rec: MetricsRecorder, **health) -> LoadResult:
    return LoadResult(
        spec={"target": "http://127.0.0.1:1"},
        started_at="2026-01-01T00:00:00+00:00",
        ended_at="2026-01-01T00:00:20+00:00",
        duration_s=20.0,
        metrics=rec,
        stages=[{"start_s": 0.0, "end_s": 20.0, "kind": "hold"}],
        health={"loop_lag_p99_ms": 1.0, "cpu_percent": 10.0, "dropped": 0, "saturated": False, "reasons": [], **health},
    )


def test_merged_shards_equal_one_recorder():
    shards, whole = _recorders(1)
    results = [LoadResult.from_dict(json.loads(json.dumps(_result(rec).to_dict()))) for rec in shards]
    merged = merge_results(results)
    pd.testing.assert_frame_equal(merged.stats_frame(), _result(whole).stats_frame())
    pd.testing.assert_frame_equal(merged.timeseries_frame(), whole.timeseries_frame())
    assert merged.stats_frame().iloc[-1]["count"] == 6000


def test_merge_joins_health_and_abort():
    shards, _ = _recorders(2)
    a = _result(shards[0], cpu_percent=40.0, dropped=3, saturated=True, reasons=["3 sends dropped"])
    b = _result(shards[1], loop_lag_p99_ms=7.5)
    b.aborted, b.abort_reason = True, "circuit breaker: error rate 60%"
    merged = merge_results([a, b])
    assert (merged.health["cpu_percent"], merged.health["loop_lag_p99_ms"], merged.health["dropped"]) == (40.0, 7.5, 3)
    assert merged.health["saturated"] and merged.health["reasons"] == ["3 sends dropped"]
    assert merged.aborted and merged.abort_reason.startswith("circuit breaker")


def test_write_summary_and_timeseries(tmp_path):
    shards, _ = _recorders(3)
    path = _result(shards[0]).write(tmp_path, {"verdict": "pass", "reason": "all thresholds met"})
    summary = json.loads(path.read_text())
    assert summary["verdict"] == "pass" and summary["totals"]["count"] == 2000
    assert set(summary["classes"]) == {"api", "health", "tool"} and summary["dropped"] == shards[0].to_dict()[
        "endpoints"
    ][0]["dropped"] + sum(e["dropped"] for e in shards[0].to_dict()["endpoints"][1:])
    assert summary["endpoints"]["get"]["p99_ms"] >= summary["endpoints"]["get"]["p50_ms"] > 0
    series = pd.read_csv(tmp_path / "timeseries.csv")
    assert (
        list(series.columns)[:3] == ["t", "class_name", "active_vus"]
        and series[series.class_name == "all"].requests.sum() == 2000
    )
