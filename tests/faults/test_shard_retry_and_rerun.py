"""Fault matrix rows 7 and 8, on one perf_smoke DAG run (``dag.test()`` under a fixed run id):

- row 7: a load worker process of the shard is SIGKILLed mid-run; the shard fails, Airflow retries it,
  and the recorded counts are those of the retry alone (the target's own count tells them apart);
- row 8: the whole DAG run is then run again under its run id (``dag.test()`` replaces the run, as a
  clear does): the store holds the same number of rows, with the re-run's counts.
"""

import json
import os
import signal
import threading
import time

import psutil
import psycopg
import pytest

from include.perfpipe.store.rows import DATA_TABLES
from tests.busy_machine import dag_state, verdict_unless_busy
from tests.conftest import query_rows
from tests.faults.conftest import dag_log, run_smoke, started_tasks
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration
RUN_ID = "manual__2026-06-01T00:00:00+00:00"
CONF = {"duration": "3s", "vus": 2, "processes": 2, "db_stage": False}


class StampingServer(LoopbackServer):
    """Records when each request arrived, so a gap tells the first attempt from the retry."""

    def __init__(self) -> None:
        super().__init__()
        self.stamps: list[float] = []

    async def _respond(self, path, writer, head, body):
        self.stamps.append(time.monotonic())
        return await super()._respond(path, writer, head, body)


def _workers(pid: int) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "loadtest.engine.worker" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass
    return found


def _store_counts(dsn: str, run_id: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM perfpipe.{table} WHERE run_id = %s", [run_id]).fetchone()[0]
            for table in (*DATA_TABLES, "stage_writes", "runs")
        }


def _recorded_requests(dsn: str, run_id: str) -> int:
    [(count,)] = query_rows(
        dsn,
        "SELECT count FROM perfpipe.endpoint_stats WHERE run_id = %s AND stage = 'loadtest' AND scope = 'total'",
        [run_id],
    )
    return count


@pytest.fixture(scope="module")
def killed_then_rerun(airflow_env, dag_runner, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("flat") / "one.yaml"
    scenario.write_text("endpoints:\n  - {name: ok, path: /ok, class: api}\n")
    conf = {**CONF, "scenario": str(scenario)}
    with StampingServer() as target:
        killed: list[float] = []

        def kill_one_worker_mid_run() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                workers = _workers(dag_runner.proc.pid)
                if len(workers) == 2 and target.requests > 50:
                    os.kill(workers[0].pid, signal.SIGKILL)
                    killed.append(time.monotonic())
                time.sleep(0.05)

        killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
        killer.start()
        first, run_dir = run_smoke(dag_runner, target.url(""), conf, run_id=RUN_ID)
        first["verdict"] = json.loads((run_dir / "summary.json").read_text())["verdict"]
        first_log = dag_log(airflow_env)
        killer.join(5)
        assert killed, "no load worker was seen to kill"
        dsn = airflow_env["AIRFLOW_CONN_PERF_RESULTS_DB"]
        after_first = _store_counts(dsn, first["run_id"]), _recorded_requests(dsn, first["run_id"])
        stamps = list(target.stamps)
        rerun, run_dir = run_smoke(dag_runner, target.url(""), conf, run_id=RUN_ID)
        rerun["verdict"] = json.loads((run_dir / "summary.json").read_text())["verdict"]
        after_rerun = _store_counts(dsn, rerun["run_id"]), _recorded_requests(dsn, rerun["run_id"])
        served_by_rerun = len(target.stamps) - len(stamps)
    return {
        "first": first,
        "first_log": first_log,
        "killed_at": killed[0],
        "stamps": stamps,
        "after_first": after_first,
        "rerun": rerun,
        "after_rerun": after_rerun,
        "served_by_rerun": served_by_rerun,
    }


def test_a_killed_shard_is_retried_and_only_the_retry_counts(killed_then_rerun):
    run = killed_then_rerun
    started = started_tasks(run["first_log"])
    assert started.count("load_test") == 2, started  # the killed attempt and its retry
    assert "exit code -9" in run["first_log"]
    passed = verdict_unless_busy(run["first"]["verdict"]["verdict"], run["first"]["verdict"]["reason"], "pass")
    assert run["first"]["state"] == dag_state(passed)
    stamps, killed_at = run["stamps"], run["killed_at"]
    after_kill = [t for t in stamps if t > killed_at]
    gaps = [(b - a, i) for i, (a, b) in enumerate(zip(after_kill, after_kill[1:], strict=False))]
    _, last_before_retry = max(gaps)  # the pause between the attempts: the retry delay and worker start-up
    retry_served = len(after_kill) - last_before_retry - 1
    first_attempt_served = len(stamps) - retry_served
    recorded = run["after_first"][1]
    assert first_attempt_served > 50 and retry_served > 50
    assert abs(recorded - retry_served) <= CONF["vus"], (recorded, retry_served, first_attempt_served)


def test_a_cleared_and_rerun_dag_run_leaves_the_same_row_counts(killed_then_rerun):
    run = killed_then_rerun
    assert run["rerun"]["run_id"] == run["first"]["run_id"] == RUN_ID
    passed = verdict_unless_busy(run["rerun"]["verdict"]["verdict"], run["rerun"]["verdict"]["reason"], "pass")
    assert run["rerun"]["state"] == dag_state(passed)
    first_counts, rerun_counts = dict(run["after_first"][0]), dict(run["after_rerun"][0])
    assert first_counts["runs"] == 1 and first_counts["endpoint_stats"] > 0
    # per-second rows depend on when the last answers land (6 or 8 for the same 3 s run); the table's primary
    # key (run, stage, second, class, scenario) is what rules out doubled seconds
    seconds_first, seconds_rerun = first_counts.pop("timeseries"), rerun_counts.pop("timeseries")
    assert rerun_counts == first_counts
    assert seconds_first > 0 and seconds_rerun > 0
    assert abs(run["after_rerun"][1] - run["served_by_rerun"]) <= CONF["vus"]  # the re-run's counts, not a sum
