"""Twelve nightly runs saved through ResultsStore into a scratch database (dropped after the session)."""

from datetime import UTC, datetime, timedelta

import pytest

from include.perfpipe.regression.baseline import shape_of
from include.perfpipe.store.results_store import ResultsStore
from tests.unit.regression.synthetic import SLOWER_API, synthetic_run

DAG, TARGET, PROFILE = "perf_regression_nightly", "http://127.0.0.1:8000", "load"
RUNS, SLOW_FROM = 12, 6  # runs night06..night11 have every api request 20 % slower
SPEC = {
    "model": "closed",
    "stages": [{"duration_s": 40, "target": 10}],
    "endpoints": [{"name": "api", "class_name": "api"}],
}


def nightly_result(night: int) -> dict:
    """The load test of one night: its recorded metrics and the spec that gives it a workload shape."""
    return {**synthetic_run(100 + night, scale=SLOWER_API if night >= SLOW_FROM else None), "spec": SPEC}


@pytest.fixture(scope="package")
def store_dsn(scratch_db):
    dsn = scratch_db("regression")
    store = ResultsStore(dsn)
    store.migrate()
    start = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    for night in range(RUNS):
        began = start + timedelta(days=night)
        result = nightly_result(night)
        run = {
            "dag_id": DAG,
            "run_id": f"night{night:02d}",
            "profile": PROFILE,
            "target": TARGET,
            "started_at": began.isoformat(),
            "ended_at": (began + timedelta(seconds=40)).isoformat(),
        }
        store.save_bundle({"run": run, "loadtest": result}, "pass", "thresholds met", shape=shape_of(result))
    return dsn


@pytest.fixture()
def store(store_dsn):
    return ResultsStore(store_dsn)
