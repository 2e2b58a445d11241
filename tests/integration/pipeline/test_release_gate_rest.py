"""A real `airflow standalone` (LocalExecutor): the README's release-gate example over REST, and a load test
sharded across mapped tasks that run in parallel and merge into one result."""

import json
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.busy_machine import dag_state, verdict_unless_busy
from tests.conftest import ROOT, running_demo_service
from tests.integration.standalone import airflow_standalone, api, wait_for_dag

pytestmark = pytest.mark.integration
GATE_SCRIPT = ROOT / "tools" / "release_gate.sh"


@pytest.fixture(scope="module")
def slow_target(demo_db_url):
    """A demo service whose /health breaches the 100 ms p95 threshold, so the smoke gate fails."""
    with running_demo_service(demo_db_url, DEMO_HEALTH_DELAY_MS="250") as url:
        yield url


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory, scratch_db, demo_db_url, slow_target):
    connections = {
        "perf_target_http": slow_target,
        "perf_target_db": demo_db_url,
        "perf_results_db": scratch_db("perfpipe_gate_results"),
    }
    with airflow_standalone(tmp_path_factory.mktemp("airflow-standalone"), connections) as server:
        yield server


def test_gate_stops_at_the_first_failed_profile_and_reports_over_rest(airflow_server):
    wait_for_dag(airflow_server, "perf_release_gate")
    env = {
        **os.environ,
        "AIRFLOW_URL": airflow_server["url"],
        "AIRFLOW_USER": airflow_server["user"],
        "AIRFLOW_PASSWORD": airflow_server["password"],
        "POLL_SECONDS": "3",
    }
    done = subprocess.run(
        ["bash", str(GATE_SCRIPT), "1.2.3", json.dumps({"duration": "3s", "db_stage": False})],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    failed = verdict_unless_busy(verdict["verdict"], verdict["reason"].removeprefix("smoke gave invalid: "), "fail")
    assert done.returncode == (1 if failed else 2), (done.stdout, done.stderr, airflow_server["log"])
    assert verdict["version"] == "1.2.3"
    assert verdict["ran"] == ["smoke"]
    assert verdict["skipped"] == ["load", "stress"]
    smoke_report = Path(urlsplit(verdict["reports"]["smoke"]).path)  # its own folder, with its own Data Docs
    assert smoke_report.is_file() and smoke_report.parent.name.endswith(".smoke")
    assert (smoke_report.parent / "gx").is_dir() and (smoke_report.parent / "validation.json").is_file()


def test_shards_run_in_parallel_and_merge_exactly(airflow_server):
    wait_for_dag(airflow_server, "perf_smoke")
    client = api(airflow_server)
    conf = {
        "shards": 2,
        "vus": 2,
        "duration": "4s",
        "start_delay": "40s",  # the default 20 s: a shard started 13.3 s after it at load 13, and recorded nothing
        "db_stage": False,
        "thresholds": {"health": {"p95_ms": "< 2s", "p99_ms": "< 2s"}},
    }  # the target's /health is slow
    run_id = client.post("/dags/perf_smoke/dagRuns", json={"logical_date": None, "conf": conf}).json()["dag_run_id"]
    run = f"/dags/perf_smoke/dagRuns/{run_id}"
    deadline = time.monotonic() + 300
    while (state := client.get(run).json()["state"]) in ("queued", "running"):
        assert time.monotonic() < deadline, f"perf_smoke still {state} after 300 s; see {airflow_server['log']}"
        time.sleep(3)
    publication = client.get(f"{run}/taskInstances/publish/xcomEntries/return_value").json()["value"]
    passed = verdict_unless_busy(publication["verdict"], publication["reason"], "pass")
    assert state == dag_state(passed), (publication, airflow_server["log"])
    tis = [t for t in client.get(f"{run}/taskInstances").json()["task_instances"] if t["task_id"] == "load_test"]
    assert sorted(t["map_index"] for t in tis) == [0, 1] and {t["state"] for t in tis} == {"success"}
    starts, ends = ([datetime.fromisoformat(t[key]) for t in tis] for key in ("start_date", "end_date"))
    assert max(starts) < min(ends), tis  # each shard started before the other ended: they ran together
    shards = [
        client.get(f"{run}/taskInstances/load_test/xcomEntries/return_value", params={"map_index": i}).json()["value"]
        for i in (0, 1)
    ]
    shard_counts = [sum(e["count"] for e in shard["metrics"]["endpoints"]) for shard in shards]
    assert all(count > 0 for count in shard_counts)
    summary = json.loads((Path(publication["report_dir"]) / "summary.json").read_text())
    assert summary["total"]["count"] == sum(shard_counts)
