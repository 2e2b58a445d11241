"""The optional ``tune`` task group of the perf DAGs: apply the planner-verified indexes CONCURRENTLY
(opt-in Param ``tune`` and the DB apply allowlist), re-run the same load, and put the measured delta per
query and per endpoint class into the DB stage's result (``db["tuning"]``, top of the report's DB section).

Off (the default) or with nothing to apply, the group hands the DB result on unchanged and runs no load.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, TriggerRule, get_current_context, task, task_group

from include.pipelines.form_fields import switch
from include.pipelines.pools import LOAD_POOL, MAINTENANCE_POOL


def tuning_params() -> dict[str, Param]:
    return {
        "tune": switch(
            False,
            "Tune: apply verified indexes and re-run",
            "Create the indexes HypoPG verified (allow-listed tables only, CONCURRENTLY), re-run the same load and "
            "report the before/after delta.",
            "Database",
        ),
    }


@task(task_id="apply_indexes", pool=MAINTENANCE_POOL)
def apply_indexes(db: dict | None) -> list[dict] | None:
    """The verified index findings, created when opted in; None when tuning is off or the DB stage did not run."""
    from include.perfpipe.database.tuning import apply_verified_indexes
    from include.pipelines.budgets import db_task_budget
    from include.pipelines.targets import db_apply_allowlist, postgres_dsn

    budget = db_task_budget()
    params = get_current_context()["params"]
    if not params["tune"] or not db:
        return None
    created = [
        r
        for r in db.get("maintenance") or []  # by the DB stage itself when apply_recommendations is on
        if r.get("action") == "create_index" and r.get("status") == "applied"
    ]
    todo = [f for f in db["findings"] if f["object"] not in {r["object"] for r in created}]
    return created + apply_verified_indexes(
        postgres_dsn(params["db_conn_id"]), todo, allowlist=db_apply_allowlist(), apply=True, budget=budget
    )


@task(task_id="rerun_load", execution_timeout=timedelta(hours=3), pool=LOAD_POOL)
def rerun_load(plan: dict, applied: list[dict] | None) -> dict | None:
    """The same load spec again, with the same credentials, in this one task (shards x processes event
    loops), between statement snapshots."""
    from include.perfpipe.database.tuning import rerun_with_statements
    from include.perfpipe.loadtest.engine.runner import resolve_processes
    from include.perfpipe.runs import engine_named, run_shard
    from include.pipelines.targets import connection_credentials, postgres_dsn, target_allowlist

    if not applied or not any(r["status"] == "applied" for r in applied):
        return None
    params = get_current_context()["params"]
    engine = engine_named(plan.get("engine"), processes=resolve_processes(params["processes"]) * params["shards"])
    return rerun_with_statements(
        postgres_dsn(params["db_conn_id"]),
        lambda: run_shard(
            plan["spec"], credentials=connection_credentials, engine=engine, allowlist=target_allowlist()
        ).to_dict(),
    )


@task(task_id="tuning_outcome", trigger_rule=TriggerRule.ALL_DONE)
def tuning_outcome(db: dict | None, load: dict | None, applied: list[dict] | None, after: dict | None) -> dict | None:
    """The DB stage's result with ``tuning`` added; unchanged when tuning is off. Runs whatever happened
    before it, so a failed apply or re-run is reported and never loses the DB stage's findings."""
    from include.perfpipe.database.tuning import tuning_outcome as outcome

    if not db or not get_current_context()["params"]["tune"]:
        return db
    if applied is None:
        return {
            **db,
            "tuning": {**outcome(db["findings"], [], {}, None), "error": "the apply_indexes task failed: see its log"},
        }
    tuning = outcome(db["findings"], applied, {"load": load, "statements_window": db["statements_delta"]}, after)
    if after is None and any(r["status"] == "applied" for r in applied):
        tuning["error"] = "the rerun_load task failed: see its log (the indexes stay applied)"
    return {**db, "tuning": tuning}


@task_group(group_id="tune")
def tune(plan, load, db):
    """apply_indexes >> rerun_load >> tuning_outcome; returns the (possibly tuned) DB result."""
    applied = apply_indexes(db)
    return tuning_outcome(db, load, applied, rerun_load(plan, applied))
