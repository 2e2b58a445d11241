"""``publish_run`` inside a real Airflow task: store rows, the copied report, the Asset event and the return value."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def results_url(scratch_db):
    return scratch_db("perfstore_publish")


def test_publish_run_records_renders_copies_and_annotates(tmp_path, results_url):
    dags = tmp_path / "dags"  # dag.test() runs DAGs from the configured bundle: put this one there
    dags.mkdir()
    dag_file = dags / "publish_dag.py"
    dag_file.write_text(Path(__file__).with_name("publish_dag.py").read_text())
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW_CONN_PERF_RESULTS_DB": results_url,
        "PERFPIPE_REPORTS_DIR": str(tmp_path / "reports"),
        "PERFPIPE_REPORTS_URL": (tmp_path / "published").as_uri(),
    }
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, capture_output=True, cwd=ROOT)
    done = subprocess.run(
        [sys.executable, str(dag_file)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    first, second, unrecorded = json.loads(done.stdout.strip().splitlines()[-1])
    assert first["state"] == second["state"] == "success", done.stderr[-4000:]
    result = second["result"]
    assert first["result"]["verdict"] == "pass" and result["verdict"] == "fail"

    published = tmp_path / "published" / "perfpipe_publish_check"
    # the store was unreachable for the third run: its report is still published, but the task fails (to retry)
    assert unrecorded["state"] == "failed" and unrecorded["result"] is None
    assert len([d for d in published.iterdir() if (d / "summary.json").exists()]) == 3
    assert "recording the run in the results store failed" in done.stdout + done.stderr
    run_folder = Path(result["report_url"].removeprefix("file://")).parent
    assert run_folder.parent == published
    assert {p.name for p in run_folder.iterdir()} >= {
        "report.html",
        "summary.md",
        "summary.json",
        "junit.xml",
        "bundle.json",
    }
    rerendered = subprocess.run(
        [
            sys.executable,
            "-m",
            "include.perfpipe",
            "report",
            str(run_folder / "bundle.json"),
            "--out",
            str(tmp_path / "again"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert rerendered.returncode == 1, rerendered.stdout + rerendered.stderr  # exit code of a fail verdict
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["verdict"]["verdict"] == "fail"
    summary = json.loads((run_folder / "summary.json").read_text())
    assert summary["verdict"]["verdict"] == "fail"
    assert summary["baseline"]["run_id"] == first["run_id"]  # the last passing run
    assert summary["regression"]["baseline_found"] is True
    assert result["regressed"] is True and "p95_ms" in result["regression_reason"]  # twice as slow

    [extra] = second["events"]
    assert extra["verdict"] == "fail" and extra["report_url"] == result["report_url"] and extra["profile"] == "smoke"

    with psycopg.connect(results_url) as conn:
        runs = conn.execute("SELECT run_id, verdict, report_url FROM perfpipe.runs ORDER BY started_at, run_id")
        runs = {r[0]: r[1:] for r in runs.fetchall()}
        stages = dict(
            conn.execute(
                "SELECT stage, count(*) FROM perfpipe.stage_writes WHERE run_id = %s GROUP BY stage", [second["run_id"]]
            ).fetchall()
        )
    assert runs == {
        first["run_id"]: ("pass", first["result"]["report_url"]),
        second["run_id"]: ("fail", result["report_url"]),
    }
    assert stages == {"loadtest": 1, "database": 1, "db_benchmark": 1, "validation": 1}
