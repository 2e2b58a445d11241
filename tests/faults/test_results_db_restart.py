"""Fault matrix row 6: the results database restarts while a run is being recorded.

A private PostgreSQL (the embedded cluster, in a temp dir on a free port) is restarted while
``save_bundle`` waits inside its write transaction; the write is retried and the run's rows are there
exactly once, as many as a run recorded without a fault."""

import shutil
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from include.perfpipe import embedded_db
from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.store import ResultsStore
from include.perfpipe.store.rows import DATA_TABLES
from tests.conftest import free_port
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster():
    root = Path(tempfile.mkdtemp(prefix="perfpipe_fault_pg_"))
    port = free_port()
    dsn = embedded_db.ensure_embedded_postgres(root / "data", port)
    try:
        yield {"dsn": dsn, "data": root / "data", "port": port}
    finally:
        embedded_db.stop_embedded_postgres(root / "data")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def load():
    with LoopbackServer() as server:
        spec = load_spec("smoke", server.url("/ok"), overrides={"vus": 2, "duration": "2s"})
        return run_load_test(spec, processes=1).to_dict()


def _bundle(load: dict, run_id: str) -> dict:
    run = {"dag_id": "faults", "run_id": run_id, "profile": "smoke", "target": load["spec"]["target"]}
    return {"run": {**run, "started_at": "2026-12-01T00:00:00+00:00"}, "loadtest": load}


def _counts(dsn: str, run_id: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        tables = [*DATA_TABLES, "stage_writes", "runs"]
        return {
            t: conn.execute(f"SELECT count(*) FROM perfpipe.{t} WHERE run_id = %s", [run_id]).fetchone()[0]
            for t in tables
        }


def test_a_write_cut_by_a_restart_is_retried_and_recorded_once(cluster, load):
    store = ResultsStore(cluster["dsn"])
    store.migrate()
    store.save_bundle(_bundle(load, "undisturbed"), "pass", "", shape=None)
    expected = _counts(cluster["dsn"], "undisturbed")
    assert expected["runs"] == 1 and expected["endpoint_stats"] > 0 and expected["timeseries"] > 0

    # hold the lock save_stage takes first in its transaction, so the write waits in there for the restart
    holder = psycopg.connect(cluster["dsn"], autocommit=True)
    holder.execute("SELECT pg_advisory_lock(hashtextextended('faults|restarted|loadtest|-1', 0))")
    errors: list = []
    writer = threading.Thread(
        target=lambda: _save(store, _bundle(load, "restarted"), errors), daemon=True, name="save_bundle"
    )
    writer.start()
    time.sleep(1.0)
    assert writer.is_alive()  # waiting inside its transaction
    assert embedded_db.stop_embedded_postgres(cluster["data"])  # fast shutdown: every session is cut
    holder.close()
    time.sleep(1.0)
    embedded_db.ensure_embedded_postgres(cluster["data"], cluster["port"])
    writer.join(20)
    assert not writer.is_alive() and not errors, errors
    assert _counts(cluster["dsn"], "restarted") == expected

    store.save_bundle(_bundle(load, "restarted"), "pass", "", shape=None)  # the task retried or re-run: still once
    assert _counts(cluster["dsn"], "restarted") == expected


def _save(store: ResultsStore, bundle: dict, errors: list) -> None:
    try:
        store.save_bundle(bundle, "pass", "", shape=None)
    except Exception as exc:  # the test reads it
        errors.append(exc)
