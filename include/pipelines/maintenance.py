"""The weekly db_maintenance DAG: inspect, maintain, record. No load test."""

from __future__ import annotations

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

from include.perfpipe.vocabulary import TARGET_DB_CONN
from include.pipelines.form_fields import switch
from include.pipelines.perf_dag import DAG_DEFAULTS
from include.pipelines.pools import MAINTENANCE_POOL


def maintenance_params() -> dict[str, Param]:
    return {
        "db_conn_id": Param(
            TARGET_DB_CONN,
            type="string",
            title="Database connection",
            description="Postgres connection of the database to maintain.",
        ),
        "vacuum": switch(True, "VACUUM (ANALYZE)", "Vacuum and analyze every table, skipping locked ones."),
        "apply_recommendations": switch(
            False, "Apply recommendations", "Run allow-listed index changes (CONCURRENTLY). Off: advice only."
        ),
    }


@task(task_id="inspect", retry_exponential_backoff=2.0)
def inspect() -> dict:
    """PgHero-style findings and table statistics."""
    from include.perfpipe.database import inspect_database, snapshot_statements, table_stats
    from include.pipelines.targets import database_of, postgres_dsn

    conn_id = get_current_context()["params"]["db_conn_id"]
    dsn = postgres_dsn(conn_id)
    with database_of(conn_id):
        return {
            "findings": inspect_database(dsn),
            "table_stats": table_stats(dsn),
            "statements": snapshot_statements(dsn),
        }


@task(task_id="maintain", pool=MAINTENANCE_POOL, retry_exponential_backoff=2.0)
def maintain(inspection: dict) -> dict:
    """VACUUM (ANALYZE) table by table, then the allow-listed recommendations when opted in."""
    import logging

    from include.perfpipe.database import apply_recommendations, vacuum_analyze
    from include.pipelines.budgets import db_task_budget
    from include.pipelines.targets import database_of, db_apply_allowlist, postgres_dsn

    budget = db_task_budget()  # VACUUM table by table, then index changes: all inside it
    params = get_current_context()["params"]
    dsn = postgres_dsn(params["db_conn_id"])
    with database_of(params["db_conn_id"]):
        progress = logging.getLogger("perfpipe.db").info
        done = vacuum_analyze(dsn, progress=progress, budget=budget) if params["vacuum"] else []
        done += apply_recommendations(
            dsn,
            inspection["findings"],
            allowlist=db_apply_allowlist(),
            apply=params["apply_recommendations"],
            budget=budget,
        )
    return {**inspection, "maintenance": done}


@task(task_id="publish", trigger_rule=TriggerRule.NONE_SKIPPED)
def publish(database: dict | None) -> dict:
    """Report the findings and record them in the results history."""
    from include.pipelines.publishing import publish_run

    return publish_run(get_current_context(), plan=None, load=None, db=database, benchmark=None, validation=None)


def build_db_maintenance_dag(dag_id: str, *, schedule: str, doc_md: str):
    @dag(
        dag_id=dag_id,
        schedule=schedule,
        **DAG_DEFAULTS,
        max_active_runs=1,
        is_paused_upon_creation=True,
        doc_md=doc_md,
        tags=["perfpipe", "database", "maintenance"],
        params=maintenance_params(),
    )
    def db_maintenance():
        publish(maintain(inspect()))

    return db_maintenance()
