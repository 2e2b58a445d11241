"""Fault matrix row 18: two pipelines against the same target or database at once are serialised by
the Airflow pools ``perfpipe_load`` and ``perfpipe_maintenance`` (include/pipelines/pools.py)."""

import json
from pathlib import Path

import pytest
import yaml

from include.pipelines.pools import LOAD_POOL, MAINTENANCE_POOL, pools_json
from tests.conftest import ROOT

LOAD_TASKS = {"load_test", "tune.rerun_load"}
MAINTENANCE_TASKS = {"db_stage", "db_benchmark", "tune.apply_indexes", "maintain"}


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors
    return bag.dags


def test_load_and_db_changing_tasks_of_every_dag_are_in_their_pools(dags):
    seen = {LOAD_POOL: set(), MAINTENANCE_POOL: set()}
    for dag_id, dag in dags.items():
        for task in dag.tasks:
            # the release gate nests each profile's tasks in a group: smoke.load_test, smoke.tune.rerun_load
            name = next((n for n in LOAD_TASKS | MAINTENANCE_TASKS if task.task_id.endswith(n)), task.task_id)
            wanted = LOAD_POOL if name in LOAD_TASKS else MAINTENANCE_POOL if name in MAINTENANCE_TASKS else None
            if wanted is None:
                assert task.pool == "default_pool", f"{dag_id}.{task.task_id} is in pool {task.pool}"
            else:
                assert task.pool == wanted, f"{dag_id}.{task.task_id} is in pool {task.pool}, not {wanted}"
                seen[wanted].add(dag_id)
    perf_dags = {d for d in dags if d.startswith("perf_")}
    assert seen[LOAD_POOL] == perf_dags and seen[MAINTENANCE_POOL] == perf_dags | {"db_maintenance"}


def test_every_way_of_running_the_dags_creates_the_pools():
    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())["airflow"]["pools"]
    assert {p["pool_name"]: p["pool_slot"] for p in settings} == {LOAD_POOL: 1, MAINTENANCE_POOL: 1}
    assert json.loads(pools_json(load_slots=2)) == {
        LOAD_POOL: {
            "slots": 2,
            "description": json.loads(pools_json())[LOAD_POOL]["description"],
            "include_deferred": False,
        },
        MAINTENANCE_POOL: json.loads(pools_json())[MAINTENANCE_POOL],
    }
    for tool in ("tools/devstack.py", "tools/cluster.py", "tests/integration/standalone.py"):
        assert "create_pools(" in Path(ROOT / tool).read_text(), tool


@pytest.mark.integration
def test_the_scheduler_queues_one_load_and_one_maintenance_task_at_a_time(airflow_env):
    """Two DAGs' load tests and two DAGs' DB-changing tasks all ready at once: with one slot each the
    scheduler's pool check queues one of each; a second perfpipe_load slot lets the second load test go."""
    import subprocess
    import sys

    wanted = ["perf_smoke:load_test", "perf_load:load_test", "perf_smoke:db_stage", "db_maintenance:maintain"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "faults" / "pool_queue.py"), "1,2", *wanted],
        env=airflow_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    queued = json.loads(done.stdout.strip().splitlines()[-1])
    one, two = queued["1"], queued["2"]
    assert len([t for t in one if t.endswith(":load_test")]) == 1, one
    assert len([t for t in one if t.endswith((":db_stage", ":maintain"))]) == 1, one
    assert sorted(t for t in two if t.endswith(":load_test")) == ["perf_load:load_test", "perf_smoke:load_test"]
    assert len([t for t in two if t.endswith((":db_stage", ":maintain"))]) == 1, two
