"""A real CeleryExecutor cluster (tools/cluster.py): Postgres metadata DB, Redis broker, scheduler,
dag-processor, api-server and two Celery workers. A sharded perf_smoke is triggered over REST with
``load_queue=perfpipe_load``; then the cluster is torn down and nothing may be left behind.

Bounded: a hard timeout (SIGALRM) fails whatever is running, and the fixture's finally always stops
the cluster."""

import json
import signal
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import psycopg
import pytest
import redis

from tests.busy_machine import dag_state, verdict_unless_busy
from tests.html_links import linked_files
from tools import cluster

pytestmark = pytest.mark.integration
HARD_TIMEOUT_S = 600
RUN_TIMEOUT_S = 300
CONF = {
    "shards": 2,
    "vus": 2,
    "duration": "5s",
    "db_stage": False,
    "load_queue": "perfpipe_load",
    "start_delay": "40s",  # generous: on a busy shared machine a task takes seconds to start
    "thresholds": {"health": {"p95_ms": "< 2s", "p99_ms": "< 2s"}},
}


def _empty_redis_db() -> str:
    for db in range(15, 0, -1):  # 11 is `make cluster`'s
        url = f"redis://127.0.0.1:6379/{db}"
        if db != 11 and redis.Redis.from_url(url, socket_timeout=5).dbsize() == 0:
            return url
    pytest.fail("Redis at 127.0.0.1:6379 has no empty database for the test cluster")


def _on_timeout(signum, frame):
    raise TimeoutError(f"the cluster test ran over its hard timeout of {HARD_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def running_cluster(tmp_path_factory, db_server_url, scratch_db, demo_db_url):
    home = tmp_path_factory.mktemp("celery-cluster")
    previous = signal.signal(signal.SIGALRM, _on_timeout)
    signal.alarm(HARD_TIMEOUT_S)
    try:
        state = cluster.start(
            home,
            db_server_url=db_server_url,
            results_url=scratch_db("perfpipe_cluster_results"),
            target_db_url=demo_db_url,
            redis_url=_empty_redis_db(),
            name="perfpipe_cluster_test",
        )
        yield state
    finally:
        try:
            cluster.stop(home)  # a no-op when the teardown test already stopped it
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def api(state: dict) -> httpx.Client:
    password = json.loads(Path(state["passwords_file"]).read_text())[state["user"]]
    token = httpx.post(
        f"{state['api_url']}/auth/token", timeout=30, json={"username": state["user"], "password": password}
    ).json()["access_token"]
    return httpx.Client(
        base_url=state["api_url"], headers={"Authorization": f"Bearer {token}"}, timeout=30
    )  # one api-server worker on a busy shared machine


def run_dag(client: httpx.Client, conf: dict, logs: str) -> tuple[str, str]:
    """Trigger perf_smoke with ``conf``; wait for the run's end; return (run path, state)."""
    import time

    deadline = time.monotonic() + 120
    while client.get("/api/v2/dags/perf_smoke").status_code != 200:
        assert time.monotonic() < deadline, f"perf_smoke not parsed in 120 s; see {logs}"
        time.sleep(2)
    created = client.post("/api/v2/dags/perf_smoke/dagRuns", json={"logical_date": None, "conf": conf})
    assert created.status_code == 200, created.text
    run = f"/api/v2/dags/perf_smoke/dagRuns/{created.json()['dag_run_id']}"
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (state := client.get(run).json()["state"]) in ("queued", "running"):
        assert time.monotonic() < deadline, f"perf_smoke still {state} after {RUN_TIMEOUT_S} s; see {logs}"
        time.sleep(3)
    return run, state


def test_too_many_shards_are_refused_in_preflight(running_cluster):
    client = api(running_cluster)
    run, state = run_dag(client, {**CONF, "shards": 3}, running_cluster["home"])
    assert state == "failed"
    tis = {t["task_id"]: t for t in client.get(f"{run}/taskInstances").json()["task_instances"]}
    assert tis["preflight"]["state"] == "failed"
    assert tis["load_test"]["state"] != "success"
    log = client.get(f"{run}/taskInstances/preflight/logs/1", headers={"Accept": "application/json"}).text
    assert "refused: shards: 3 shards need 3 free worker slots on queue 'perfpipe_load', but only 2 are free" in log


def test_sharded_run_spreads_over_both_workers_and_publishes_to_shared_storage(running_cluster):
    client = api(running_cluster)
    run, state = run_dag(client, CONF, running_cluster["home"])
    publication = client.get(f"{run}/taskInstances/publish/xcomEntries/return_value").json()["value"]
    passed = verdict_unless_busy(publication["verdict"], publication["reason"], "pass")
    assert state == dag_state(passed), (publication, running_cluster["home"])

    shards = [t for t in client.get(f"{run}/taskInstances").json()["task_instances"] if t["task_id"] == "load_test"]
    assert sorted(t["hostname"] for t in shards) == ["w1", "w2"]
    assert {t["queue"] for t in shards} == {"perfpipe_load"}
    results = [
        client.get(f"{run}/taskInstances/load_test/xcomEntries/return_value", params={"map_index": i}).json()["value"]
        for i in (0, 1)
    ]
    counts = [sum(e["count"] for e in r["metrics"]["endpoints"]) for r in results]
    assert all(c > 0 for c in counts) and {r["shard"]["host"] for r in results} == {"w1", "w2"}

    shared = Path(unquote(urlsplit(running_cluster["reports_url"]).path)).resolve()
    report = Path(unquote(urlsplit(publication["report_url"]).path)).resolve()
    assert report.parent.parent.parent == shared and report.is_file()
    summary = json.loads((report.parent / "summary.json").read_text())
    assert summary["total"]["count"] == sum(counts)
    assert sorted((s["host"], s["requests"]) for s in summary["loadtest"]["shards"]) == sorted(
        zip((r["shard"]["host"] for r in results), counts, strict=False)
    )
    assert all(s["clock"] is not None and not s["clock_warning"] for s in summary["loadtest"]["shards"])

    files = linked_files(report.read_text())
    assert any(link.startswith("gx/") for link in files), files  # the Data Docs, validated on some worker
    for link in files:
        assert not urlsplit(link).scheme, f"absolute link in the report: {link}"
        target = (report.parent / unquote(urlsplit(link).path)).resolve()
        assert target.is_relative_to(report.parent) and target.is_file(), link

    # the reports page (plugin on the api-server) lists the run and serves its report from the shared folder
    page = client.get("/perfpipe/api/runs").json()["runs"]
    mine = next(r for r in page if r["run_id"] == publication["run_id"])
    assert mine["folder"] == report.parent.relative_to(shared).as_posix()
    served = client.get(f"/perfpipe/reports/{mine['folder']}/report.html")
    assert served.status_code == 200 and 'id="shards"' in served.text


def test_teardown_leaves_no_process_and_no_broker_key(running_cluster):
    home = Path(running_cluster["home"])
    processes = json.loads((home / "state.json").read_text())["processes"]
    assert {p["name"] for p in processes} >= {"scheduler", "dag-processor", "api-server", "worker-w1", "worker-w2"}
    left = cluster.stop(home)
    assert left == {"pids": [], "broker_keys": 0}
    assert not [p["name"] for p in processes if cluster.alive(p)]
    broker = redis.Redis.from_url(running_cluster["redis_url"], socket_timeout=5)
    assert broker.dbsize() == 0, broker.keys("*")[:10]
    with psycopg.connect(running_cluster["db_server_url"]) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_database WHERE datname = %s", (running_cluster["meta_db"],)
            ).fetchone()[0]
            == 0
        )
    assert not (home / "state.json").exists()
