"""Shared by the fault matrix (docs/RELIABILITY.md): one Airflow home for the session, DAG runs through
``dag.test()`` in a child interpreter (``run_dag.py``: 1 s retry delays), and a target server process."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT, migrated_airflow_home

RUNNER = Path(__file__).with_name("run_dag.py")
TARGET = Path(__file__).with_name("target.py")


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory, scratch_db, demo_db_url):
    """Environment of an Airflow home (SQLite metadata DB) with the connections the DAGs use."""
    return migrated_airflow_home(
        tmp_path_factory, target_db=demo_db_url, results_db=scratch_db("perfpipe_fault_results")
    )


class DagRunner:
    """The ``run_dag.py`` process of the session: DAG runs one after another, each log in ``dag_test.log``."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, str(RUNNER)], env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.lock = threading.Lock()

    def run(self, dag: str, conf: dict, env: dict, run_id: str | None, timeout_s: float = 240) -> dict:
        with self.lock:
            assert self.proc.poll() is None, f"the DAG runner exited with {self.proc.returncode}"
            self.proc.stdin.write(json.dumps({"dag": dag, "conf": conf, "env": env, "run_id": run_id}))
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            lines: list[str] = []
            timer = threading.Timer(timeout_s, self.proc.kill)  # a hung run ends the runner, and the test
            timer.start()
            try:
                for line in self.proc.stdout:
                    if line.startswith("@@run-end "):
                        break
                    if not line.startswith("@@run-start"):
                        lines.append(line)
                else:
                    raise AssertionError(f"the DAG runner died (killed after {timeout_s} s?): {''.join(lines)[-3000:]}")
            finally:
                timer.cancel()
            (Path(self.env["PERFPIPE_REPORTS_DIR"]) / "dag_test.log").write_text("".join(lines))
            outcome = json.loads(line.split(" ", 1)[1])
            assert outcome["state"] != "crashed", outcome["error"]
            return outcome

    def stop(self) -> None:
        self.proc.kill()  # idle between runs: nothing to finish
        self.proc.wait(10)


@pytest.fixture(scope="session")
def dag_runner(airflow_env):
    runner = DagRunner(airflow_env)
    yield runner
    runner.stop()


def run_smoke(
    runner: DagRunner, target_url: str, conf: dict, *, dag: str = "perf_smoke", run_id: str | None = None, **env
) -> tuple[dict, Path | None]:
    """Run ``dags/<dag>.py`` once against ``target_url`` (the perf_target_http connection, a URI or JSON);
    ``env`` adds environment variables for this run; ``run_id`` (``manual__<ISO logical date>``) runs it
    under that id, replacing an earlier run of it. Returns the outcome ``{"state", "run_id"}`` and the
    newest run folder; the run's log is in ``dag_test.log``."""
    env = {"AIRFLOW_CONN_PERF_TARGET_HTTP": target_url, **env}
    outcome = runner.run(str(ROOT / "dags" / f"{dag}.py"), conf, env, run_id)
    run_dirs = (Path(runner.env["PERFPIPE_REPORTS_DIR"]) / dag).glob("*")
    return outcome, max(run_dirs, key=lambda d: d.stat().st_mtime, default=None)


def dag_log(env: dict) -> str:
    return (Path(env["PERFPIPE_REPORTS_DIR"]) / "dag_test.log").read_text()


def started_tasks(log: str) -> list[str]:
    """Task ids in the order ``dag.test()`` started them (a retry starts its task again)."""
    marker = "[DAG TEST] starting task_id="
    return [line.split(marker)[1].split()[0] for line in log.splitlines() if marker in line]


@contextlib.contextmanager
def target_process(*args: str):
    """``target.py`` in its own process on a free loopback port; yields ``(Popen, base URL)``, stops it by PID."""
    proc = subprocess.Popen(
        [sys.executable, str(TARGET), *args], cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        port = int(proc.stdout.readline())
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
