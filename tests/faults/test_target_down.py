"""Fault matrix row 1: the target is down when the run starts."""

import json

import pytest

from tests.conftest import free_port
from tests.faults.conftest import dag_log, run_smoke, started_tasks

pytestmark = pytest.mark.integration


def test_target_down_at_preflight_is_an_error_naming_the_url_and_no_load_runs(airflow_env, dag_runner):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    outcome, run_dir = run_smoke(dag_runner, url, {"duration": "2s", "db_stage": False})
    started = started_tasks(dag_log(airflow_env))
    assert outcome["state"] == "failed"
    assert started.count("preflight") == 3  # a down target may come back: retried (1 s apart here)
    assert not {"load_test", "merge_shards", "validate"} & set(started), started
    assert "publish" in started
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"]["verdict"] == "error"
    assert f"target {url} (connection 'perf_target_http') is unreachable" in summary["verdict"]["reason"]
