"""One factory for every performance pipeline: preflight, DB snapshot, sharded load test, DB stage,
GX validation, publishing, and a verdict that colours the DAG run.

Each task calls into ``include.perfpipe`` and passes JSON-able dicts through XCom, so the same DAG
runs on the Local, Celery and Kubernetes executors.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from airflow.sdk import TriggerRule, dag, get_current_context, task

from include.perfpipe.vocabulary import RESULTS_DB_CONN
from include.pipelines.failures import record_failure
from include.pipelines.pools import LOAD_POOL, MAINTENANCE_POOL
from include.pipelines.publishing import report_asset
from include.pipelines.run_form import config_file, perf_params
from include.pipelines.run_identity import group_run_id
from include.pipelines.tuning import tune

DEFAULT_ARGS = {
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "execution_timeout": timedelta(minutes=20),
    "on_failure_callback": record_failure,
}  # the report names the first failed task and its error
DAG_DEFAULTS = {"start_date": datetime(2026, 1, 1), "catchup": False, "default_args": DEFAULT_ARGS}
"""What every perfpipe DAG shares: no backfill of missed schedules (each would load the target), and the tasks'
retries, time limit and failure report."""


@task(task_id="preflight")
def preflight(profile: str | None = None) -> dict:
    """Check the target (allow-listed, reachable), the databases and the thresholds; plan the shards.

    ``profile`` overrides the ``profile`` Param (the release gate runs several profiles in one DAG run).
    """
    import httpx
    import psycopg
    from airflow.sdk.exceptions import AirflowFailException

    from include.perfpipe.database.maintenance import check_apply_allowlist
    from include.perfpipe.durations import parse_duration
    from include.perfpipe.errors import PerfpipeError
    from include.perfpipe.loadtest import check_target
    from include.perfpipe.runs import plan_run
    from include.perfpipe.validation import load_thresholds
    from include.pipelines.placement import check_load_placement, shared_reports_problem
    from include.pipelines.targets import db_apply_allowlist, http_target, postgres_dsn, target_allowlist

    ctx = get_current_context()
    params = ctx["params"]
    profile = profile or params["profile"]
    try:  # bad input: fail at once, a retry would not mend it; anything else is a bug, retried
        base_url, headers = http_target(params["target_conn_id"])
        check_target(base_url, target_allowlist())
        thresholds = load_thresholds(overrides=params["thresholds"], profile=profile, target=base_url)
        overrides = {k: params[k] for k in ("vus", "duration", "rate") if params.get(k) is not None}
        planned = plan_run(
            profile,
            base_url,
            thresholds,
            scenario=config_file(params["scenario"], "scenario"),
            overrides={**overrides, "live_metrics": params.get("prometheus")},
            credential_names=list(headers),
            credentials_conn_id=params["target_conn_id"],
            allowlist=target_allowlist(),
            engine="k6" if params.get("k6_script") else None,
            k6_script=config_file(params.get("k6_script"), "k6_script"),
            profile_stages=bool(params.get("profile_stages")),
        )
        start_delay_s = parse_duration(params["start_delay"], "start_delay", positive=True)
        if params["db_benchmark"]:
            benchmark_plan(params)
        if params["db_stage"] and params["apply_recommendations"]:
            check_apply_allowlist(db_apply_allowlist())  # db_stage would refuse it after the load, and retry
    except PerfpipeError as exc:
        raise AirflowFailException(f"bad input: {exc}") from exc
    try:
        httpx.get(base_url, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise RuntimeError(
            f"target {base_url} (connection {params['target_conn_id']!r}) is unreachable: {exc}"
        ) from exc
    for conn_id in ([params["db_conn_id"]] if params["db_stage"] else []) + [RESULTS_DB_CONN]:
        try:
            psycopg.connect(postgres_dsn(conn_id), connect_timeout=10).close()
        except psycopg.OperationalError as exc:
            raise RuntimeError(f"database of connection {conn_id!r} is unreachable: {exc}") from exc
    if problem := shared_reports_problem() or (
        params["shards"] > 1
        and check_load_placement(params["shards"], params["load_queue"], dag_id=ctx["dag"].dag_id, run_id=ctx["run_id"])
    ):
        raise AirflowFailException(f"refused: {problem}")
    start_at = time.time() + start_delay_s if params["shards"] > 1 else None  # one shard starts at once
    return {
        "run": {
            "dag_id": ctx["dag"].dag_id,
            "run_id": group_run_id(ctx),
            "profile": profile,
            "target": base_url,
            "version": params["version"] or None,
            "started_at": datetime.now().astimezone().isoformat(),
        },
        "spec": planned.spec.to_dict(),
        "engine": planned.engine,
        "shards": [{"index": i, "count": params["shards"], "start_at": start_at} for i in range(params["shards"])],
    }


@task
def shard_list(plan: dict) -> list[dict]:
    """The shards to map the load test over (one mapped task instance each)."""
    return plan["shards"]


@task(task_id="db_snapshot", retry_exponential_backoff=2.0)
def db_snapshot() -> dict | None:
    """pg_stat_statements and table statistics before the load, so the DB stage can diff the load window."""
    from include.perfpipe.database import snapshot_statements, table_stats
    from include.pipelines.targets import database_of, postgres_dsn

    params = get_current_context()["params"]
    if not params["db_stage"]:
        return None
    dsn = postgres_dsn(params["db_conn_id"])
    with database_of(params["db_conn_id"]):
        return {"statements": snapshot_statements(dsn), "table_stats": table_stats(dsn)}


@task(task_id="load_test", execution_timeout=timedelta(hours=3), pool=LOAD_POOL)
def load_test(plan: dict, shard: dict) -> dict:
    """Run this shard's share of the load from the common start time.

    The target's credentials are resolved here, from the connection the spec names, and go to the
    engine only; the allowlist too is read here (the Variable), not taken from the plan's spec, which an
    edited XCom could widen with its target. With several shards, the first to abort stops the others
    through the results DB (``AbortSignal``).
    """
    from include.perfpipe.payloads import RunPlan, ShardSlot, checked
    from include.perfpipe.runs import NO_HOOKS, RunHooks, Shard, engine_named, run_shard
    from include.pipelines.targets import connection_credentials, target_allowlist

    checked(RunPlan, plan, "plan")
    checked(ShardSlot, shard, "shard")
    ctx = get_current_context()
    placed = shard_placement(ctx, shard)
    engine = engine_named(plan.get("engine"), processes=ctx["params"]["processes"])

    def run(hooks: RunHooks = NO_HOOKS) -> dict:  # logs progress (elapsed, VUs, req/s, p95, errors) every few seconds
        result = run_shard(
            plan["spec"],
            Shard.of(shard),
            credentials=connection_credentials,
            engine=engine,
            hooks=hooks,
            allowlist=target_allowlist(),
        )
        return {**result.to_dict(), "shard": placed}

    if shard["count"] == 1:
        return run()
    with shared_abort_signal(plan["run"], shard) as signal:
        return run(
            RunHooks(should_stop=signal.should_stop, on_abort=lambda reason: signal.raise_abort(reason, shard["index"]))
        )


def shard_placement(ctx, shard: dict) -> dict:
    """Where this shard runs (host, queue) and, with several shards, its clock against the results DB.

    Fails at once when the task is not on the run's ``load_queue`` (the routing policy is missing).
    """
    import logging

    from airflow.sdk.exceptions import AirflowFailException

    from include.perfpipe.store.clock import clock_offset
    from include.pipelines.placement import requested_queue
    from include.pipelines.targets import postgres_dsn

    ti = ctx["ti"]
    wanted = requested_queue(ctx["params"])
    if wanted and ti.queue != wanted:
        raise AirflowFailException(
            f"load_queue {wanted!r}: this shard ran on queue {ti.queue!r}; install the task_instance_mutation_hook "
            "of include/pipelines/placement.py (plugins/airflow_local_settings.py) on the scheduler"
        )
    placed = {"index": shard["index"], "host": ti.hostname, "queue": ti.queue, "clock": None, "clock_warning": None}
    if shard["count"] > 1:
        clock = clock_offset(postgres_dsn(RESULTS_DB_CONN))
        placed.update(clock=clock.to_dict(), clock_warning=clock.warning())
        if placed["clock_warning"]:
            logging.getLogger("perfpipe.loadtest").warning(
                "shard %s on %s: %s", shard["index"], ti.hostname, placed["clock_warning"]
            )
    return placed


def shared_abort_signal(run: dict, shard: dict):
    """The run's ``AbortSignal`` in the results DB, keyed like its results (dag_id, group run id); rows
    older than the shards' common start belong to an earlier attempt of the DAG run."""
    from include.perfpipe.store import AbortSignal
    from include.pipelines.targets import postgres_dsn

    return AbortSignal(postgres_dsn(RESULTS_DB_CONN), run["dag_id"], run["run_id"], since=shard["start_at"])


@task(task_id="merge_shards")
def merge_shards(shards: list[dict]) -> dict:
    """Exact merge of the shards' histograms into the run's result."""
    from include.perfpipe.loadtest import LoadResult, merge_results
    from include.perfpipe.loadtest.shards import shard_rows
    from include.perfpipe.payloads import LoadResultPayload, checked

    results = [LoadResult.from_dict(checked(LoadResultPayload, s, f"shards[{i}]")) for i, s in enumerate(shards)]
    merged = merge_results(results)
    merged.extra.pop("shard", None)
    merged.extra["shards"] = shard_rows(results)
    merged.health["notes"] = [
        f"shard {r['index']} on {r['host']}: {r['clock_warning']}" for r in merged.extra["shards"] if r["clock_warning"]
    ]
    return merged.to_dict()


@task(task_id="db_stage", pool=MAINTENANCE_POOL, retry_exponential_backoff=2.0)
def db_stage(before: dict | None, load: dict) -> dict | None:
    """Name the queries that dominated the load window, inspect the DB, and VACUUM (ANALYZE) it safely."""
    import logging

    from include.perfpipe.database import (
        apply_recommendations,
        inspect_database,
        snapshot_statements,
        statements_delta,
        table_stats,
        top_queries,
        vacuum_analyze,
    )
    from include.pipelines.budgets import db_task_budget
    from include.pipelines.targets import database_of, db_apply_allowlist, postgres_dsn

    budget = db_task_budget()  # inspection, then VACUUM table by table, then index changes: all inside it
    params = get_current_context()["params"]
    if not params["db_stage"]:
        return None
    dsn = postgres_dsn(params["db_conn_id"])
    with database_of(params["db_conn_id"]):
        findings = inspect_database(dsn)
        window = statements_delta(before["statements"], snapshot_statements(dsn), top=None)
        stats = table_stats(dsn)
        vacuumed = vacuum_analyze(dsn, progress=logging.getLogger("perfpipe.db").info, budget=budget)
        return {
            "statements_delta": window[:20],
            "top_queries": top_queries(window),
            "table_stats": stats,
            "findings": findings,
            "maintenance": vacuumed
            + apply_recommendations(
                dsn, findings, allowlist=db_apply_allowlist(), apply=params["apply_recommendations"], budget=budget
            ),
        }


@task(task_id="db_benchmark", pool=MAINTENANCE_POOL)
def db_benchmark(plan: dict) -> dict | None:
    """Optional query-latency benchmark (class ``db``), after the load so the two do not compete; it takes
    the plan so that it never runs after a failed preflight."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.perfpipe.errors import ConfigError
    from include.perfpipe.payloads import RunPlan, checked
    from include.perfpipe.runs import run_benchmark
    from include.pipelines.targets import postgres_dsn

    checked(RunPlan, plan, "plan")
    params = get_current_context()["params"]
    if not params["db_benchmark"]:
        return None
    try:  # bad input: fail at once, a retry would not mend it
        return run_benchmark(benchmark_plan(params), postgres_dsn(params["db_conn_id"]))
    except ConfigError as exc:
        raise AirflowFailException(f"bad input: {exc}") from exc


def benchmark_plan(params: dict):
    """The DB benchmark the run's Params ask for, checked (``runs.plan_benchmark``): its duration and the drain
    of its last queries must fit in the db_benchmark task's time budget, or Airflow would kill it mid-run."""
    from include.perfpipe.database.benchmark import QUERY_TIMEOUT_S
    from include.perfpipe.errors import ConfigError
    from include.perfpipe.runs import plan_benchmark
    from include.pipelines.budgets import DB_TASK_MARGIN_S

    plan = plan_benchmark(
        duration=params["db_duration"],
        connections=params["db_connections"],
        queries_file=config_file(params["db_queries"], "db_queries"),
        rate=params["db_rate"],
        duration_field="db_duration",
    )
    fits_s = DEFAULT_ARGS["execution_timeout"].total_seconds() - DB_TASK_MARGIN_S - QUERY_TIMEOUT_S
    if plan.duration_s > fits_s:
        raise ConfigError(
            f"db_duration: {params['db_duration']!r} does not fit in the db_benchmark task's "
            f"{DEFAULT_ARGS['execution_timeout']} execution_timeout: at most {fits_s:g}s"
        )
    return plan


@task(task_id="validate")
def validate(plan: dict, load: dict, benchmark: dict | None) -> dict:
    """Judge the run with the GX threshold suites: pass, fail, invalid or error."""
    from include.perfpipe.loadtest import LoadResult
    from include.perfpipe.payloads import LoadResultPayload, RunPlan, checked
    from include.perfpipe.runs import judge_run, run_dir
    from include.perfpipe.validation import load_thresholds
    from include.pipelines.report_storage import publish_folder, reports_base

    checked(RunPlan, plan, "plan")
    checked(LoadResultPayload, load, "load")
    run = plan["run"]
    thresholds = load_thresholds(
        overrides=get_current_context()["params"]["thresholds"], profile=run["profile"], target=run["target"]
    )
    out_dir = run_dir(run["dag_id"], run["run_id"])
    verdict = judge_run(LoadResult.from_dict(load), thresholds, out_dir, benchmark=benchmark).to_dict()
    publish_folder(out_dir, reports_base())  # the Data Docs, wherever publish runs
    return verdict


# Publishing and the verdict run whatever happened upstream (failed included), except when the release
# gate skipped this profile altogether: hence NONE_SKIPPED rather than ALL_DONE.
@task(task_id="publish", trigger_rule=TriggerRule.NONE_SKIPPED, outlets=[report_asset])
def publish(
    plan: dict | None, load: dict | None, db: dict | None, benchmark: dict | None, validation: dict | None
) -> dict:
    """Render the report, record the run in the results DB and publish, whatever the verdict."""
    from include.pipelines.publishing import publish_run

    ctx = get_current_context()
    return publish_run(ctx, plan=plan, load=load, db=db, benchmark=benchmark, validation=validation)


@task(task_id="verdict", trigger_rule=TriggerRule.NONE_SKIPPED)
def verdict(publication: dict | None) -> dict:
    """Fail the DAG run (without retrying: AirflowFailException) unless the verdict is pass."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.perfpipe.payloads import Publication, checked

    if not publication:
        raise AirflowFailException("no verdict: the run failed before publishing (see the failed task's log)")
    checked(Publication, publication, "publication")
    if publication["verdict"] != "pass":
        raise AirflowFailException(f"verdict {publication['verdict']}: {publication['reason']}")
    if publication["regressed"] and get_current_context()["params"]["fail_on_regression"]:
        raise AirflowFailException(f"regression against the baseline: {publication['regression_reason']}")
    return publication


def perf_pipeline(profile: str | None = None, after=None):
    """Wire one run's tasks inside a DAG (or task group); returns the (publish, verdict) outputs."""
    plan = preflight(profile)
    if after is not None:
        after >> plan
    before = db_snapshot()
    plan >> before
    shards = load_test.partial(plan=plan).expand(shard=shard_list(plan))
    before >> shards
    load = merge_shards(shards)
    db = tune(plan, load, db_stage(before, load))  # optional: include/pipelines/tuning.py
    benchmark = db_benchmark(plan)
    db >> benchmark
    validation = validate(plan, load, benchmark)
    publication = publish(plan, load, db, benchmark, validation)
    return publication, verdict(publication)


def build_perf_dag(
    dag_id: str, profile: str, *, schedule=None, fail_on_regression: bool = False, doc_md: str, tags: list[str]
):
    """A performance DAG for one profile; the smoke, load and stress DAGs all come from here.

    The threshold file is checked here, at parse time, so a malformed one shows as a DAG import error
    naming the file, field and value.
    """
    from include.perfpipe.validation import load_thresholds

    load_thresholds(profile=profile)

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        **DAG_DEFAULTS,
        max_active_runs=1,
        is_paused_upon_creation=schedule is not None,  # a schedule starts loading a target only once unpaused
        doc_md=doc_md,
        tags=["perfpipe", *tags],
        params=perf_params(profile, fail_on_regression),
        render_template_as_native_obj=True,
    )
    def perf_dag():
        perf_pipeline()

    return perf_dag()
