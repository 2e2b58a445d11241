"""Load placement: the load_queue routing policy, the free-slot check, the shared-reports rule and the
per-shard rows of the report."""

import json
from types import SimpleNamespace

import pytest

from include.perfpipe.loadtest import LoadResult
from include.perfpipe.loadtest.shards import shard_rows
from include.perfpipe.metrics import MetricsRecorder
from include.pipelines.placement import (
    WorkerSlots,
    _workload_run,
    placement_problem,
    requested_queue,
    shared_reports_problem,
    task_instance_mutation_hook,
)

W1 = WorkerSlots("celery@w1", ("default", "perfpipe_load"), slots=1, busy=0)
W2 = WorkerSlots("celery@w2", ("perfpipe_load",), slots=2, busy=1)


@pytest.mark.parametrize("task_id", ["load_test", "smoke.load_test"])
def test_hook_routes_load_tests_to_the_runs_queue(task_id):
    ti = SimpleNamespace(task_id=task_id, queue="default")
    task_instance_mutation_hook(ti, dag_run=SimpleNamespace(conf={"load_queue": " perfpipe_load "}))
    assert ti.queue == "perfpipe_load"


@pytest.mark.parametrize(
    "task_id, conf, dag_run",
    [
        ("preflight", {"load_queue": "perfpipe_load"}, True),
        ("load_test", {}, True),
        ("load_test", {"load_queue": None}, True),
        ("load_test", {"load_queue": ""}, True),
        ("load_test", {"load_queue": "perfpipe_load"}, False),  # no run yet (early construction): leave it
    ],
)
def test_hook_leaves_other_tasks_and_unset_queues_alone(task_id, conf, dag_run):
    ti = SimpleNamespace(task_id=task_id, queue="default")
    task_instance_mutation_hook(ti, dag_run=SimpleNamespace(conf=conf) if dag_run else None)
    assert ti.queue == "default"


def test_requested_queue_ignores_non_strings():
    assert requested_queue(None) is None and requested_queue({"load_queue": 3}) is None


def test_shards_fit_the_free_slots_of_the_workers_serving_the_queue():
    assert placement_problem(2, "perfpipe_load", [W1, W2]) is None  # 1 + (2 - 1)
    assert W2.free == 1 and WorkerSlots("x", ("q",), slots=1, busy=3).free == 0


def test_too_many_shards_name_the_field_the_counts_and_each_worker():
    problem = placement_problem(3, "perfpipe_load", [W1, W2])
    assert problem.startswith("shards: 3 shards need 3 free worker slots on queue 'perfpipe_load', but only 2")
    assert "celery@w1 1/1, celery@w2 1/2" in problem


def test_only_workers_serving_the_queue_count():
    assert "only 1 are free" in placement_problem(2, "default", [W1, W2])


def test_a_queue_nobody_serves_is_named_with_the_served_ones():
    problem = placement_problem(1, "gpu", [W1, W2])
    assert "load_queue 'gpu': no Celery worker serves it (queues served: default, perfpipe_load)" in problem


def test_workload_run_reads_airflows_celery_request_and_tolerates_others():
    request = {"args": [json.dumps({"ti": {"dag_id": "perf_smoke", "run_id": "r1", "task_id": "x"}})]}
    assert _workload_run(request) == ("perf_smoke", "r1")
    assert _workload_run({"args": ["not json"]}) is None and _workload_run({"args": []}) is None


def test_distributed_executor_without_shared_reports_is_refused(monkeypatch):
    monkeypatch.delenv("PERFPIPE_REPORTS_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    assert shared_reports_problem().startswith("PERFPIPE_REPORTS_URL: not set, but the executor CeleryExecutor")
    monkeypatch.setenv("PERFPIPE_REPORTS_URL", "s3://bucket/perfpipe")
    assert shared_reports_problem() is None
    monkeypatch.delenv("PERFPIPE_REPORTS_URL")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    assert shared_reports_problem() is None


def _shard(index: int, host: str, requests: int, saturated=False, warning=None) -> LoadResult:
    recorder = MetricsRecorder()
    for i in range(requests):
        recorder.record("health", "health", 0.002, ok=i % 10 != 0, status=200, elapsed_s=0.5)
    return LoadResult(
        spec={},
        started_at="",
        ended_at="",
        duration_s=2.0,
        metrics=recorder,
        stages=[],
        health={"loop_lag_p99_ms": 1.5, "cpu_percent": 20.0, "start_delay_s": 0.01, "saturated": saturated},
        extra={
            "shard": {
                "index": index,
                "host": host,
                "queue": "perfpipe_load",
                "clock": {"offset_ms": 0.2, "rtt_ms": 0.4},
                "clock_warning": warning,
            }
        },
    )


def test_shard_rows_give_each_shards_host_requests_and_health_in_shard_order():
    rows = shard_rows([_shard(1, "w2", 30, saturated=True, warning="clock +150 ms"), _shard(0, "w1", 20)])
    assert [(r["index"], r["host"], r["requests"], r["errors"], r["rps"]) for r in rows] == [
        (0, "w1", 20, 2, 10.0),
        (1, "w2", 30, 3, 15.0),
    ]
    assert [r["saturated"] for r in rows] == [False, True] and rows[1]["clock_warning"] == "clock +150 ms"
    assert rows[0]["queue"] == "perfpipe_load" and rows[0]["clock"] == {"offset_ms": 0.2, "rtt_ms": 0.4}
