"""perf_smoke end to end with ``dag.test()``: demo service, real PostgreSQL, report files and results rows."""

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.busy_machine import dag_state, verdict_unless_busy
from tests.conftest import ROOT, migrated_airflow_home, running_demo_service

pytestmark = pytest.mark.integration
RUNNER = Path(__file__).with_name("run_dag.py")


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory, scratch_db, demo_db_url):
    return migrated_airflow_home(tmp_path_factory, target_db=demo_db_url, results_db=scratch_db("perfpipe_results"))


def run_smoke(env: dict, target_url: str, conf: dict) -> tuple[dict, Path]:
    env = {**env, "AIRFLOW_CONN_PERF_TARGET_HTTP": target_url}
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(ROOT / "dags" / "perf_smoke.py"), json.dumps(conf)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = Path(env["PERFPIPE_REPORTS_DIR"]) / "dag_test.log"
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-4000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    run_dirs = (Path(env["PERFPIPE_REPORTS_DIR"]) / "perf_smoke").glob("*")
    run_dir = max(run_dirs, key=lambda d: d.stat().st_mtime, default=None)
    return outcome, run_dir


def test_smoke_run_passes_and_publishes(airflow_env, demo_service):
    outcome, run_dir = run_smoke(airflow_env, demo_service, {"duration": "5s"})
    summary = json.loads((run_dir / "summary.json").read_text())
    verdict = summary["verdict"]
    passed = verdict_unless_busy(verdict["verdict"], verdict["reason"], "pass")
    assert outcome["state"] == dag_state(passed), (verdict, run_dir.parent.parent / "dag_test.log")
    assert summary["thresholds_failed"] == 0 and summary["thresholds"], summary["thresholds"]  # the target's part
    classes = {row["class_name"]: row for row in summary["classes"]}
    assert set(classes) >= {"health", "api", "tool"}
    assert all(row["count"] > 0 and row["p95_ms"] > 0 for row in classes.values())
    assert (run_dir / "report.html").stat().st_size > 10_000
    with psycopg.connect(airflow_env["AIRFLOW_CONN_PERF_RESULTS_DB"]) as conn:
        verdicts = conn.execute(
            "SELECT verdict FROM perfpipe.runs WHERE dag_id = 'perf_smoke' AND run_id = %s", [outcome["run_id"]]
        ).fetchall()
    assert verdicts == [(verdict["verdict"],)]


def test_threshold_breach_fails_the_run(airflow_env, demo_db_url):
    with running_demo_service(demo_db_url, DEMO_HEALTH_DELAY_MS="250") as slow_target:
        outcome, run_dir = run_smoke(airflow_env, slow_target, {"duration": "4s", "db_stage": False})
    assert outcome["state"] == "failed"
    summary = json.loads((run_dir / "summary.json").read_text())
    verdict_unless_busy(summary["verdict"]["verdict"], summary["verdict"]["reason"], "fail")
    assert "health" in {c["class_name"] for c in summary["thresholds"] if not c["success"]}, summary["thresholds"]


def test_bad_benchmark_input_fails_preflight_at_once(airflow_env, demo_service, tmp_path):
    queries = tmp_path / "queries.yaml"
    queries.write_text("queries:\n  - {sql: 'SELECT 1', weight: -2}\n")
    outcome, _ = run_smoke(
        airflow_env, demo_service, {"duration": "2s", "db_benchmark": True, "db_queries": str(queries)}
    )
    log = (Path(airflow_env["PERFPIPE_REPORTS_DIR"]) / "dag_test.log").read_text()
    assert outcome["state"] == "failed"
    # a value read from a file is named by its kind and place, never quoted (docs/RELIABILITY.md)
    assert f"bad input: {queries}: queries[0].weight: must be a number > 0 (got a number; line 2, column 31)" in log
    started = [
        line.split("task_id=")[1].split()[0] for line in log.splitlines() if "[DAG TEST] starting task_id=" in line
    ]
    assert started.count("preflight") == 1 and "load_test" not in started and "db_benchmark" not in started


def test_a_k6_script_is_the_load_stage_of_perf_smoke(airflow_env, demo_service):
    """The ``k6_script`` Param: the bundled smoke script runs through the DAG; k6's thresholds join the verdict
    as suite k6 and its summary (with p(99)) is kept in the run folder, counting what our frames recorded."""
    conf = {"k6_script": "k6/load-test-smoke.js", "vus": 2, "duration": "3s", "db_stage": False}
    outcome, run_dir = run_smoke(airflow_env, demo_service, conf)
    summary = json.loads((run_dir / "summary.json").read_text())
    verdict = summary["verdict"]
    passed = verdict_unless_busy(verdict["verdict"], verdict["reason"], "pass")
    assert outcome["state"] == dag_state(passed), (verdict, run_dir.parent.parent / "dag_test.log")
    k6_rows = [c for c in summary["thresholds"] if c["suite"] == "k6"]
    assert {c["metric"] for c in k6_rows} == {"http_req_duration p(95)", "http_req_failed rate", "checks rate"}
    export = json.loads((run_dir / "k6-summary.json").read_text())["metrics"]
    assert "p(99)" in export["http_req_duration"] and export["http_reqs"]["count"] == summary["total"]["count"] > 0
    assert "k6 end-of-test summary" in (run_dir / "report.html").read_text()
