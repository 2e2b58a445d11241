"""The DB stage on a schema no one here designed: Airflow 3's own metadata database, migrated by ``airflow db
migrate`` into a scratch database (about 5 s on this machine), statistics seconds old. Its warnings must be the
real problems only: the redundant single-column indexes Airflow's composite keys cover, and the server's own
settings (autovacuum is off on the shared test server)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from include.perfpipe.database import inspect_database
from tests.conftest import query_rows
from tests.integration.database.conftest import by_check

pytestmark = pytest.mark.integration

# Airflow's single-column indexes that a composite primary or unique key leads with (3.3.2's schema)
REDUNDANT = {
    "public.idx_asset_alias_asset_alias_id": "public.asset_alias_asset_pkey",
    "public.idx_asset_alias_asset_event_alias_id": "public.asset_alias_asset_event_pkey",
    "public.idx_dag_warning_dag_id": "public.dag_warning_pkey",
    "public.idx_dag_run_dag_id": "public.dag_run_dag_id_run_id_key",
    "public.idx_dagrun_asset_events_dag_run_id": "public.dagrun_asset_event_pkey",
}


@pytest.fixture(scope="module")
def airflow_db(scratch_db, tmp_path_factory):
    """A scratch database holding Airflow's freshly migrated metadata schema."""
    url = scratch_db("perfdb_airflow_schema")
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url.replace("postgresql://", "postgresql+psycopg2://", 1),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"airflow db migrate: {time.monotonic() - started:.1f} s")
    return url


def _server_settings_off(dsn: str) -> set[str]:
    rows = query_rows(
        dsn, "SELECT name FROM pg_settings WHERE name IN ('autovacuum', 'track_counts') AND setting = 'off'"
    )
    return {name for (name,) in rows}


def test_warnings_are_the_real_problems_only(airflow_db):
    found = inspect_database(airflow_db)
    warnings = sorted((f["check"], f["object"]) for f in found if f["severity"] in ("warning", "critical"))
    expected = [("duplicate_indexes", index) for index in REDUNDANT]
    if _server_settings_off(airflow_db):
        expected.append(("autovacuum_blocked", "server"))
    assert warnings == sorted(expected)
    for index, cover in REDUNDANT.items():
        assert by_check(found, "duplicate_indexes")[index]["evidence"]["covered_by"] == cover
    [young] = by_check(found, "unused_indexes").values()
    assert young["severity"] == "info" and young["sql"] is None
    assert "old: the unused-index check needs 7 days" in young["recommendation"]
    assert young["evidence"]["not_scanned_yet"] > 30


def test_old_enough_statistics_report_the_unused_indexes_by_cost(airflow_db):
    with psycopg.connect(airflow_db) as conn:
        expected = {
            f"{r[0]}.{r[1]}"
            for r in conn.execute(
                """SELECT s.schemaname, s.indexrelname FROM pg_stat_user_indexes s JOIN pg_index i USING (indexrelid)
                    WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)"""
            ).fetchall()
        }
    found = inspect_database(airflow_db, {"unused_index_min_stats_days": 0}, ["unused_indexes"])
    assert {f["object"] for f in found} == expected and "public.idx_dag_run_dag_id" in expected
    assert "public.dag_run_pkey" not in expected
    costs = [(f["evidence"]["table_writes"], f["evidence"]["index_bytes"]) for f in found]
    assert costs == sorted(costs, reverse=True)  # writes first, then size
    for f in found:
        assert f["severity"] == ("warning" if f["evidence"]["table_writes"] else "info")
