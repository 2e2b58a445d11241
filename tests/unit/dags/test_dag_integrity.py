"""DAG integrity, as in the Astro project template: files import, every DAG is tagged and retried."""

from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[3] / "dags"


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}


def test_every_dag_file_defines_a_dag(dag_bag):
    files = {p.stem for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_")}
    defined = {Path(d.fileloc).stem for d in dag_bag.dags.values()}
    assert files <= defined


def test_every_dag_is_tagged_documented_and_retried(dag_bag):
    assert dag_bag.dags
    for dag_id, dag in dag_bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id} retries={task.retries}"
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no execution_timeout"


def test_params_have_descriptions(dag_bag):
    for dag_id, dag in dag_bag.dags.items():
        for name, param in dag.params.items():
            assert param.description, f"{dag_id} param {name} has no description"


def test_parsing_imports_no_heavy_library():
    """DAG files are parsed often: great_expectations (~6 s), plotly and scipy load only inside tasks."""
    import subprocess
    import sys

    probe = (
        "import runpy, sys, pathlib\n"
        f"for f in sorted(pathlib.Path({str(DAGS_DIR)!r}).glob('*.py')): runpy.run_path(str(f))\n"
        "print(sorted(m for m in ('great_expectations', 'plotly', 'scipy', 'ruptures') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=DAGS_DIR.parent, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
