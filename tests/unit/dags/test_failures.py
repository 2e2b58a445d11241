"""A failed task's error reaches the report: recorded on failure, read back by publish (earliest first)."""

from types import SimpleNamespace

from include.pipelines.failures import FAILURE_KEY, first_failure, record_failure


class FakeTI:
    def __init__(self, task_id, store, map_index=-1):
        self.task_id, self.map_index, self.store = task_id, map_index, store

    def xcom_push(self, key, value):
        self.store[(self.task_id, key)] = value

    def xcom_pull(self, task_ids, key):
        return [self.store.get((t, key)) for t in task_ids]


def test_publish_reads_the_first_failed_upstream_task(monkeypatch):
    store = {}
    clock = iter([100.0, 50.0])
    monkeypatch.setattr("include.pipelines.failures.time.time", lambda: next(clock))
    record_failure({"ti": FakeTI("db_stage", store), "exception": RuntimeError("database down")})
    record_failure({"ti": FakeTI("preflight", store), "exception": ValueError("bad input: scenario: cannot read 'x'")})
    task = SimpleNamespace(get_flat_relative_ids=lambda upstream: {"preflight", "db_stage", "load_test"})
    failure = first_failure({"ti": FakeTI("publish", store), "task": task})
    assert failure == {"task_id": "preflight", "map_index": -1, "error": "bad input: scenario: cannot read 'x'"}
    assert set(store) == {("db_stage", FAILURE_KEY), ("preflight", FAILURE_KEY)}


def test_no_failure_upstream_gives_none():
    task = SimpleNamespace(get_flat_relative_ids=lambda upstream: {"preflight"})
    assert first_failure({"ti": FakeTI("publish", {}), "task": task}) is None


def test_every_task_records_its_failure():
    from airflow.dag_processing.dagbag import DagBag

    from tests.unit.dags.test_dag_integrity import DAGS_DIR

    for dag in DagBag(dag_folder=str(DAGS_DIR)).dags.values():
        for task in dag.tasks:
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert record_failure in callbacks, f"{dag.dag_id}.{task.task_id}"
