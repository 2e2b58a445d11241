"""A real `airflow standalone` (LocalExecutor) on a free loopback port, for the REST and browser tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from include.pipelines.pools import pools_json
from tests.conftest import ROOT, free_port

USER = "ci"


@contextlib.contextmanager
def airflow_standalone(home: Path, connections: dict[str, str], **env: str):
    """Serve the project's DAGs and plugins from ``home``; yield ``{"url", "user", "password", "log", "home"}``.

    ``connections``: Airflow connection id -> URI. Stops the whole process group on exit.
    """
    port = free_port()
    full_env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # an idle scheduler sleeps up to 1 s between loops, so each finished task waits ~0.5 s for the next
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "PERFPIPE_REPORTS_DIR": str(home / "reports"),
        **{f"AIRFLOW_CONN_{conn_id.upper()}": uri for conn_id, uri in connections.items()},
        **env,
    }
    full_env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    log = (home / "standalone.log").open("w")
    server = subprocess.Popen(
        ["airflow", "standalone"], env=full_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
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
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())[USER]
        served = {"url": base, "user": USER, "password": password, "log": log.name, "home": home}
        create_pools(served, load_slots=2)  # the tests run 2-shard DAG runs, whose shards must run together
        yield served
    finally:
        _stop_group(server)
        log.close()


def _stop_group(server: subprocess.Popen) -> None:
    """SIGTERM the whole session, then SIGKILL whatever of it is left after 30 s: the scheduler and its
    workers can outlive ``airflow standalone`` itself."""
    os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(30)
    while time.monotonic() < deadline:
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)


def api(server: dict) -> httpx.Client:
    """A REST client with a JWT for the server's admin user."""
    token = httpx.post(
        f"{server['url']}/auth/token", json={"username": server["user"], "password": server["password"]}
    ).json()["access_token"]
    return httpx.Client(base_url=f"{server['url']}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def create_pools(server: dict, load_slots: int = 1) -> None:
    """The perfpipe pools (include/pipelines/pools.py), without which load and DB tasks never leave the queue."""
    client = api(server)
    for name, pool in json.loads(pools_json(load_slots=load_slots)).items():
        done = client.post("/pools", json={"name": name, **pool})
        assert done.status_code in (201, 409), done.text  # 409: it exists already


def wait_for_dag(server: dict, dag_id: str) -> None:
    client = api(server)
    deadline = time.monotonic() + 120
    while client.get(f"/dags/{dag_id}").status_code != 200:
        assert time.monotonic() < deadline, f"{dag_id} not parsed in 120 s; see {server['log']}"
        time.sleep(2)
