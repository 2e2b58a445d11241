"""Twelve nightly runs saved through ResultsStore into a scratch database on PostgreSQL 15 (dropped after)."""
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from include.perfpipe.store.results_store import ResultsStore
from tests.unit.regression.synthetic import SLOWER_API, synthetic_run

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DAG, TARGET, PROFILE = "perf_regression_nightly", "http://127.0.0.1:8000", "load"
RUNS, SLOW_FROM = 12, 6  # runs night06..night11 have every api request 20 % slower


@pytest.fixture(scope="package")
def store_dsn():
    name = f"regression_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"system PostgreSQL at 127.0.0.1:5432 is unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
            store = ResultsStore(dsn)
            store.migrate()
            start = datetime(2026, 11, 1, 1, 0, tzinfo=timezone.utc)
            for night in range(RUNS):
                began = start + timedelta(days=night)
                result = synthetic_run(100 + night, scale=SLOWER_API if night >= SLOW_FROM else None)
                run = {"dag_id": DAG, "run_id": f"night{night:02d}", "profile": PROFILE, "target": TARGET,
                       "started_at": began.isoformat(), "ended_at": (began + timedelta(seconds=40)).isoformat()}
                store.save_bundle({"run": run, "loadtest": result}, "pass", "thresholds met")
            yield dsn
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def store(store_dsn):
    return ResultsStore(store_dsn)
