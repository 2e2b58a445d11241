"""A ``dag.test()`` server for the fault tests: one interpreter runs DAG after DAG (Airflow's start-up
is paid once), with 1 s retry delays so the tests wait for real retries in seconds.

Reads one JSON command per stdin line, ``{"dag": "dags/perf_smoke.py", "conf": {...}, "env": {...},
"run_id": str or null}`` (``env`` is set for that run only; ``run_id`` runs it under that id again:
``dag.test()`` replaces an earlier run of that id, like a cleared and re-run DAG run), and answers on stdout between
``@@run-start`` and ``@@run-end {"state", "run_id"}`` lines, with the run's log (stderr too) in between.
"""

import contextlib
import importlib.util
import json
import os
import sys
import traceback
from datetime import datetime, timedelta
from unittest import mock

from airflow.models.dagrun import DagRun

import include.pipelines.perf_dag as perf_dag

perf_dag.DEFAULT_ARGS["retry_delay"] = timedelta(seconds=1)  # the DAG factories read it when a file runs
os.dup2(sys.stdout.fileno(), sys.stderr.fileno())
modules: dict = {}


def dag_of(path: str):
    if path not in modules:
        spec = importlib.util.spec_from_file_location(f"dag_under_test_{len(modules)}", path)
        modules[path] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[path])
    return modules[path].dag


for line in sys.stdin:
    command = json.loads(line)
    print("@@run-start", flush=True)
    saved = {name: os.environ.get(name) for name in command["env"]}
    os.environ.update(command["env"])
    try:
        with contextlib.ExitStack() as stack:
            if command.get("run_id"):  # dag.test() deletes the run of its logical date and makes a new one
                stack.enter_context(mock.patch.object(DagRun, "generate_run_id", return_value=command["run_id"]))
                logical_date = datetime.fromisoformat(command["run_id"].rsplit("__", 1)[1])
            else:
                logical_date = None
            run = dag_of(command["dag"]).test(
                run_conf=command["conf"], **({"logical_date": logical_date} if logical_date else {})
            )
        outcome = {"state": str(run.state), "run_id": run.run_id}
    except Exception:
        outcome = {"state": "crashed", "run_id": None, "error": traceback.format_exc()}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    sys.stderr.flush()
    print("@@run-end", json.dumps(outcome), flush=True)
