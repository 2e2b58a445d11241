"""A real `airflow standalone` (LocalExecutor): the README's release-gate example over REST, and a load test
sharded across mapped tasks that run in parallel and merge into one result."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ROOT, free_port, running_demo_service

pytestmark = pytest.mark.integration
GATE_SCRIPT = ROOT / "tools" / "release_gate.sh"


@pytest.fixture(scope="module")
def slow_target(demo_db_url):
    """A demo service whose /health breaches the 100 ms p95 threshold, so the smoke gate fails."""
    with running_demo_service(demo_db_url, DEMO_HEALTH_DELAY_MS="250") as url:
        yield url


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory, scratch_db, demo_db_url, slow_target):
    home = tmp_path_factory.mktemp("airflow-standalone")
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "ci:admin",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW_CONN_PERF_TARGET_HTTP": slow_target,
        "AIRFLOW_CONN_PERF_TARGET_DB": demo_db_url,
        "AIRFLOW_CONN_PERF_RESULTS_DB": scratch_db("perfpipe_gate_results"),
        "PERFPIPE_REPORTS_DIR": str(home / "reports"),
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    log = (home / "standalone.log").open("w")
    server = subprocess.Popen(["airflow", "standalone"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, f"airflow standalone exited; see {log.name}"
            assert time.monotonic() < deadline, f"airflow standalone not up in 180 s; see {log.name}"
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["ci"]
        yield {"url": base, "user": "ci", "password": password, "log": log.name}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def api(server: dict) -> httpx.Client:
    token = httpx.post(f"{server['url']}/auth/token",
                       json={"username": server["user"], "password": server["password"]}).json()["access_token"]
    return httpx.Client(base_url=f"{server['url']}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def wait_for_dag(server: dict, dag_id: str) -> None:
    client = api(server)
    deadline = time.monotonic() + 120
    while client.get(f"/dags/{dag_id}").status_code != 200:
        assert time.monotonic() < deadline, f"{dag_id} not parsed in 120 s; see {server['log']}"
        time.sleep(2)


def test_gate_stops_at_the_first_failed_profile_and_reports_over_rest(airflow_server):
    wait_for_dag(airflow_server, "perf_release_gate")
    env = {**os.environ, "AIRFLOW_URL": airflow_server["url"], "AIRFLOW_USER": airflow_server["user"],
           "AIRFLOW_PASSWORD": airflow_server["password"], "POLL_SECONDS": "3"}
    done = subprocess.run(
        ["bash", str(GATE_SCRIPT), "1.2.3", json.dumps({"duration": "3s", "db_stage": False})],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 1, (done.stdout, done.stderr, airflow_server["log"])
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict["verdict"] == "fail"
    assert verdict["version"] == "1.2.3"
    assert verdict["ran"] == ["smoke"]
    assert verdict["skipped"] == ["load", "stress"]
    smoke_report = Path(urlsplit(verdict["reports"]["smoke"]).path)  # its own folder, with its own Data Docs
    assert smoke_report.is_file() and smoke_report.parent.name.endswith(".smoke")
    assert (smoke_report.parent / "gx").is_dir() and (smoke_report.parent / "validation.json").is_file()


def test_shards_run_in_parallel_and_merge_exactly(airflow_server):
    wait_for_dag(airflow_server, "perf_smoke")
    client = api(airflow_server)
    conf = {"shards": 2, "vus": 2, "duration": "4s", "db_stage": False,
            "thresholds": {"health": {"p95_ms": "< 2s", "p99_ms": "< 2s"}}}  # the target's /health is slow
    run_id = client.post("/dags/perf_smoke/dagRuns", json={"logical_date": None, "conf": conf}).json()["dag_run_id"]
    run = f"/dags/perf_smoke/dagRuns/{run_id}"
    deadline = time.monotonic() + 300
    while (state := client.get(run).json()["state"]) in ("queued", "running"):
        assert time.monotonic() < deadline, f"perf_smoke still {state} after 300 s; see {airflow_server['log']}"
        time.sleep(3)
    publication = client.get(f"{run}/taskInstances/publish/xcomEntries/return_value").json()["value"]
    assert state == "success", (publication, airflow_server["log"])
    shards = [client.get(f"{run}/taskInstances/load_test/xcomEntries/return_value",
                         params={"map_index": i}).json()["value"] for i in (0, 1)]
    shard_counts = [sum(e["count"] for e in shard["metrics"]["endpoints"]) for shard in shards]
    assert all(count > 0 for count in shard_counts)
    summary = json.loads((Path(publication["report_dir"]) / "summary.json").read_text())
    assert summary["total"]["count"] == sum(shard_counts)
    assert not summary["loadtest"]["health"]["saturated"], summary["loadtest"]["health"]
