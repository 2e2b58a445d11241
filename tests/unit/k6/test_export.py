"""A sharded run's k6 summary export: counts add up, percentiles come from the merged histograms."""

import json

import pandas as pd
import pytest

from include.perfpipe.custom_metrics import CustomMetrics
from include.perfpipe.k6.export import merged_export, merged_group
from include.perfpipe.k6.summary import judge_k6
from include.perfpipe.loadtest.journey.stats import JourneyStats
from include.perfpipe.loadtest.result import LoadResult, merge_results
from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.validation.gx_checkpoint import RESULT_COLUMNS
from include.perfpipe.validation.result import ValidationResult
from include.perfpipe.validation.verdict import Verdict

# shard 1 is fast, shard 2 slow: the merged p(50) lies in neither shard's middle
DURATIONS_MS = ([1.0, 2.0, 3.0, 4.0], [50.0, 60.0, 70.0, 80.0, 90.0, 100.0])
WAITS_MS = ([0.5, 1.5], [40.0, 45.0, 48.0])


def shard(index: int) -> LoadResult:
    recorder = MetricsRecorder("default")
    for ms in DURATIONS_MS[index]:
        recorder.record("home", "api", ms / 1000, True, 200, 0.5)
    journey = JourneyStats(CustomMetrics({"http_req_waiting": "trend", "queue": "gauge"}))
    for value in WAITS_MS[index]:
        journey.metrics.add("http_req_waiting", value, 0.5)
    journey.metrics.add("queue", 7 + index, 1.0 + index)
    return LoadResult({}, "t0", "t1", 2.0, recorder, [], {}, journey=journey)


def export(index: int) -> dict:
    """What k6 exported for shard ``index`` (its own figures of its own samples)."""
    durations, waits = DURATIONS_MS[index], WAITS_MS[index]
    count = len(durations)
    trend = {"avg": sum(durations) / count, "min": min(durations), "med": durations[count // 2], "max": max(durations)}
    return {
        "metrics": {
            "http_reqs": {"count": count, "rate": count / 2.0, "thresholds": {"count==10": True}},
            "http_req_duration": {**trend, "p(99)": max(durations)},
            "http_req_waiting": {"avg": sum(waits) / len(waits), "min": min(waits), "max": max(waits), "p(99)": 1},
            "http_req_blocked": {"avg": 0.1 * (index + 1), "min": 0.0, "max": 0.5, "p(99)": 0.4},
            "checks": {"passes": count - 1, "fails": 1, "value": (count - 1) / count},
            "vus": {"value": 2, "min": 1, "max": 2},
            "queue": {"value": 7 + index, "min": 7 + index, "max": 7 + index},
            "group_duration": {"avg": 5.0, "min": 1.0 + index, "max": 9.0, "med": 5.0},
        },
        "root_group": {
            "name": "",
            "path": "",
            "groups": {
                "shop": {"name": "shop", "groups": {}, "checks": {"ok": {"name": "ok", "passes": 3, "fails": 1}}}
            },
            "checks": {"top": {"name": "top", "passes": index, "fails": 0}},
        },
    }


def test_counts_add_up_and_percentiles_come_from_the_merged_histogram():
    parts = [shard(0), shard(1)]
    merged = merge_results(parts)
    document = merged_export([export(0), export(1)], merged, {"http_reqs": {"count==10": False}})
    metrics = document["metrics"]
    assert metrics["http_reqs"] == {"count": 10, "rate": 5.0, "thresholds": {"count==10": False}}  # judged globally
    assert metrics["checks"] == {"passes": 8, "fails": 2, "value": 0.8}
    duration = metrics["http_req_duration"]
    hist = next(iter(merged.metrics.endpoints.values())).hist
    assert duration["p(99)"] == hist.get_value_at_percentile(99) / 1000 == pytest.approx(100, rel=1e-3)
    assert duration["med"] == hist.get_value_at_percentile(50) / 1000 == pytest.approx(50, rel=1e-3)
    assert (duration["min"], duration["max"]) == (1.0, 100.0)
    assert duration["avg"] == pytest.approx(sum(DURATIONS_MS[0] + DURATIONS_MS[1]) / 10)  # weighted by http_reqs
    waiting = metrics["http_req_waiting"]  # a carried phase: its merged custom trend
    assert waiting["p(99)"] == pytest.approx(48.0, rel=1e-3) and waiting["avg"] == pytest.approx(27.0)
    assert metrics["http_req_blocked"] == {"avg": pytest.approx(0.16), "min": 0.0, "max": 0.5}  # not carried
    assert metrics["vus"] == {"value": 4, "min": 2, "max": 4} and metrics["queue"] == {"value": 8, "min": 7, "max": 8}
    assert metrics["group_duration"] == {"min": 1.0, "max": 9.0}
    assert set(document["perfpipe"]["not_merged"]) == {
        "http_req_blocked p(99)",
        "group_duration avg",
        "group_duration med",
    }
    assert document["shards"] == [export(0), export(1)] and document["perfpipe"]["shards"] == 2


def test_checks_of_the_shards_root_groups_add_up():
    group = merged_group([export(0)["root_group"], export(1)["root_group"]])
    assert group["groups"]["shop"]["checks"]["ok"] == {"name": "ok", "passes": 6, "fails": 2}
    assert group["checks"]["top"]["passes"] == 1 and group["name"] == ""


def test_a_sharded_run_writes_one_merged_summary_and_one_shard_its_own(tmp_path):
    merged = merge_results([shard(0), shard(1)])
    merged.spec = {"k6": {"options": {"thresholds": {"http_reqs": ["count==10"]}}}}
    merged.extra = {f"k6_shard_{i}": {"exit_code": 0, "summary": export(i)} for i in (0, 1)}
    validation = ValidationResult(Verdict.PASS, "ok", pd.DataFrame(columns=RESULT_COLUMNS))
    assert judge_k6(validation, merged, tmp_path).verdict == Verdict.PASS
    written = json.loads((tmp_path / "k6-summary.json").read_text())
    assert written["metrics"]["http_reqs"]["count"] == 10 and written["metrics"]["http_reqs"]["thresholds"] == {
        "count==10": False
    }
    one = shard(0)
    one.spec, one.extra = merged.spec, {"k6_shard_0": {"exit_code": 0, "summary": export(0)}}
    judge_k6(ValidationResult(Verdict.PASS, "ok", pd.DataFrame(columns=RESULT_COLUMNS)), one, tmp_path)
    assert json.loads((tmp_path / "k6-summary.json").read_text()) == export(0)  # k6's own, as it wrote it
