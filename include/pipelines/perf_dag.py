"""One factory for every performance pipeline: preflight, DB snapshot, sharded load test, DB stage,
GX validation, publishing, and a verdict that colours the DAG run.

Each task calls into ``include.perfpipe`` and passes JSON-able dicts through XCom, so the same DAG
runs on the Local, Celery and Kubernetes executors.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

from include.pipelines.failures import record_failure
from include.pipelines.publishing import group_run_id, report_asset
from include.pipelines.targets import RESULTS_DB_CONN, TARGET_DB_CONN, TARGET_HTTP_CONN
from include.pipelines.tuning import tune, tuning_params

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
DEFAULT_SCENARIO = str(CONFIG_DIR / "scenarios" / "demo.yaml")
SHARD_START_DELAY_S = 15  # several shards start together, this long after preflight, so all workers are up
DEFAULT_ARGS = {"retries": 2, "retry_delay": timedelta(seconds=30), "execution_timeout": timedelta(minutes=20),
                "on_failure_callback": record_failure}  # the report names the first failed task and its error


def profile_names() -> list[str]:
    import yaml

    return list(yaml.safe_load((CONFIG_DIR / "profiles.yaml").read_text())["profiles"])


def perf_params(profile: str, fail_on_regression: bool = False) -> dict[str, Param]:
    """The run form: every field has a UI description; empty fields keep the profile's own values."""
    return {
        "profile": Param(profile, type="string", enum=profile_names(), title="Profile",
                         description="Load profile from include/config/profiles.yaml.", section="Load"),
        "vus": Param(None, type=["null", "integer"], minimum=1, maximum=2000, title="Virtual users",
                     description="Closed model: hold this many VUs for the whole run (overrides the stages).",
                     section="Load"),
        "duration": Param(None, type=["null", "string"], pattern=r"^\d+(ms|s|m|h)$", title="Duration",
                          description="Run length such as 30s or 5m (overrides the stages).", section="Load"),
        "rate": Param(None, type=["null", "number"], exclusiveMinimum=0, maximum=50000, title="Arrival rate",
                      description="Open model: constant requests per second.", section="Load"),
        "scenario": Param(DEFAULT_SCENARIO, type="string", title="Scenario file",
                          description="YAML list of endpoints with weights, classes and expected statuses.",
                          section="Load"),
        "shards": Param(1, type="integer", minimum=1, maximum=16, title="Shards",
                        description="Worker tasks sharing the load (dynamic task mapping).", section="Scale"),
        "processes": Param(1, type="integer", minimum=1, maximum=16, title="Processes per shard",
                           description="Event loops per worker task, one per core.", section="Scale"),
        "target_conn_id": Param(TARGET_HTTP_CONN, type="string", title="Target connection",
                                description="HTTP connection of the service under test.", section="Target"),
        "db_conn_id": Param(TARGET_DB_CONN, type="string", title="Target DB connection",
                            description="Postgres connection of the service's database.", section="Target"),
        "version": Param(None, type=["null", "string"], title="Version label",
                         description="Release or git sha recorded with the run, e.g. v1.4.0. Optional.",
                         section="Target"),
        "thresholds": Param({}, type="object", title="Threshold overrides",
                            description='Per-class overrides, e.g. {"api": {"p95_ms": 300}}.', section="Validation"),
        "db_stage": Param(True, type="boolean", title="Database stage",
                          description="Snapshot, inspect and VACUUM (ANALYZE) the target DB.", section="Database"),
        "db_benchmark": Param(False, type="boolean", title="DB query benchmark",
                              description="Run the query-latency benchmark after the load test.",
                              section="Database"),
        "db_queries": Param(str(CONFIG_DIR / "db_queries.yaml"), type=["null", "string"], title="Benchmark queries",
                            description="YAML file of read-only queries to benchmark; empty: top pg_stat_statements.",
                            section="Database"),
        "db_connections": Param(100, type="integer", minimum=1, maximum=1000, title="Benchmark connections",
                                description="Concurrent benchmark connections, capped by the server's free slots.",
                                section="Database"),
        "db_duration": Param("30s", type="string", title="Benchmark duration",
                             description="How long the benchmark runs, e.g. 30s or 2m.", section="Database"),
        "db_rate": Param(None, type=["null", "number"], exclusiveMinimum=0, maximum=100000, title="Benchmark rate",
                         description="Pace all connections to this many queries/s in total (latency from the "
                                     "intended start). Empty: back to back.", section="Database"),
        "apply_recommendations": Param(False, type="boolean", title="Apply DB recommendations",
                                       description="Run allow-listed index changes (CONCURRENTLY). Off: advice only.",
                                       section="Database"),
        **tuning_params(),
        "mark_baseline": Param(False, type="boolean", title="Mark as baseline",
                               description="Use this run as the baseline for its target and profile.",
                               section="Regression"),
        "fail_on_regression": Param(fail_on_regression, type="boolean", title="Fail on regression",
                                    description="Fail the run when it is significantly worse than its baseline.",
                                    section="Regression"),
    }


@task(task_id="preflight")
def preflight(profile: str | None = None) -> dict:
    """Check the target (allow-listed, reachable), the databases and the thresholds; plan the shards.

    ``profile`` overrides the ``profile`` Param (the release gate runs several profiles in one DAG run).
    """
    import httpx
    import psycopg
    from airflow.sdk.exceptions import AirflowFailException

    from include.perfpipe.database import load_queries
    from include.perfpipe.durations import parse_duration
    from include.perfpipe.loadtest import check_target, load_spec
    from include.perfpipe.validation import load_thresholds
    from include.pipelines.targets import http_target, postgres_dsn, target_allowlist

    ctx = get_current_context()
    params = ctx["params"]
    profile = profile or params["profile"]
    try:  # bad input: fail at once, a retry would not mend it
        base_url, headers = http_target(params["target_conn_id"])
        check_target(base_url, target_allowlist())
        thresholds = load_thresholds(overrides=params["thresholds"], profile=profile, target=base_url)
        overrides = {k: params[k] for k in ("vus", "duration", "rate") if params.get(k) is not None}
        overrides["abort_rules"] = thresholds.abort_rules()
        spec = load_spec(profile=profile, target=base_url, scenario=params["scenario"],
                         overrides=overrides, headers=headers, allowlist=target_allowlist())
        if params["db_benchmark"]:
            parse_duration(params["db_duration"], "db_duration", positive=True)
            if params["db_queries"]:
                load_queries(params["db_queries"])
    except ValueError as exc:
        raise AirflowFailException(f"bad input: {exc}") from exc
    try:
        httpx.get(base_url, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"target {base_url} (connection {params['target_conn_id']!r}) is unreachable: {exc}") from exc
    for conn_id in ([params["db_conn_id"]] if params["db_stage"] else []) + [RESULTS_DB_CONN]:
        try:
            psycopg.connect(postgres_dsn(conn_id), connect_timeout=10).close()
        except psycopg.OperationalError as exc:
            raise RuntimeError(f"database of connection {conn_id!r} is unreachable: {exc}") from exc
    start_at = time.time() + SHARD_START_DELAY_S if params["shards"] > 1 else None  # one shard starts at once
    return {
        "run": {
            "dag_id": ctx["dag"].dag_id, "run_id": group_run_id(ctx), "profile": profile,
            "target": base_url, "version": params["version"] or None,
            "started_at": datetime.now().astimezone().isoformat(),
        },
        "spec": spec.to_dict(),
        "shards": [{"index": i, "count": params["shards"], "start_at": start_at} for i in range(params["shards"])],
    }


@task
def shard_list(plan: dict) -> list[dict]:
    """The shards to map the load test over (one mapped task instance each)."""
    return plan["shards"]


@task(task_id="db_snapshot")
def db_snapshot() -> dict | None:
    """pg_stat_statements and table statistics before the load, so the DB stage can diff the load window."""
    from include.perfpipe.database import snapshot_statements, table_stats
    from include.pipelines.targets import postgres_dsn

    params = get_current_context()["params"]
    if not params["db_stage"]:
        return None
    dsn = postgres_dsn(params["db_conn_id"])
    return {"statements": snapshot_statements(dsn), "table_stats": table_stats(dsn)}


@task(task_id="load_test", execution_timeout=timedelta(hours=3))
def load_test(plan: dict, shard: dict) -> dict:
    """Run this shard's share of the load from the common start time.

    With several shards, the first to abort stops the others through the results DB (``AbortSignal``).
    """
    from functools import partial

    from include.perfpipe.loadtest import LoadSpec, run_load_test

    params = get_current_context()["params"]
    run_shard = partial(  # logs progress (elapsed, VUs, req/s, p95, errors) every few seconds
        run_load_test, LoadSpec.from_dict(plan["spec"]), processes=params["processes"],
        shard_index=shard["index"], shard_count=shard["count"], start_at=shard["start_at"],
    )
    if shard["count"] == 1:
        return run_shard().to_dict()
    with shared_abort_signal(plan["run"], shard) as signal:
        return run_shard(should_stop=signal.should_stop,
                         on_abort=lambda reason: signal.raise_abort(reason, shard["index"])).to_dict()


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

    return merge_results([LoadResult.from_dict(s) for s in shards]).to_dict()


@task(task_id="db_stage")
def db_stage(before: dict | None, load: dict) -> dict | None:
    """Name the queries that dominated the load window, inspect the DB, and VACUUM (ANALYZE) it safely."""
    import logging

    from include.perfpipe.database import (
        apply_recommendations, inspect_database, snapshot_statements, statements_delta, table_stats, top_queries,
        vacuum_analyze,
    )
    from include.pipelines.targets import db_apply_allowlist, postgres_dsn

    params = get_current_context()["params"]
    if not params["db_stage"]:
        return None
    dsn = postgres_dsn(params["db_conn_id"])
    findings = inspect_database(dsn)
    window = statements_delta(before["statements"], snapshot_statements(dsn), top=None)
    return {
        "statements_delta": window[:20], "top_queries": top_queries(window),
        "table_stats": table_stats(dsn),
        "findings": findings,
        "maintenance": vacuum_analyze(dsn, progress=logging.getLogger("perfpipe.db").info)
        + apply_recommendations(dsn, findings, allowlist=db_apply_allowlist(), apply=params["apply_recommendations"]),
    }


@task(task_id="db_benchmark")
def db_benchmark() -> dict | None:
    """Optional query-latency benchmark (class ``db``), after the load so the two do not compete."""
    from include.perfpipe.database import load_queries, run_query_benchmark
    from include.perfpipe.durations import parse_duration
    from include.pipelines.targets import postgres_dsn

    params = get_current_context()["params"]
    if not params["db_benchmark"]:
        return None
    queries = load_queries(params["db_queries"]) if params["db_queries"] else None
    return run_query_benchmark(postgres_dsn(params["db_conn_id"]), queries=queries,
                               connections=params["db_connections"],
                               duration_s=parse_duration(params["db_duration"], "db_duration", positive=True),
                               rate=params["db_rate"])


@task(task_id="validate")
def validate(plan: dict, load: dict, benchmark: dict | None) -> dict:
    """Judge the run with the GX threshold suites: pass, fail, invalid or error."""
    from include.perfpipe.runs import judge_run, run_dir
    from include.pipelines.publishing import publish_folder, reports_base

    params = get_current_context()["params"]
    out_dir = run_dir(plan["run"]["dag_id"], plan["run"]["run_id"])
    verdict = judge_run(plan["run"], load, benchmark, overrides=params["thresholds"], out_dir=out_dir)
    publish_folder(out_dir, reports_base(), plan["run"]["dag_id"])  # the Data Docs, wherever publish runs
    return verdict


# Publishing and the verdict run whatever happened upstream (failed included), except when the release
# gate skipped this profile altogether: hence NONE_SKIPPED rather than ALL_DONE.
@task(task_id="publish", trigger_rule=TriggerRule.NONE_SKIPPED, outlets=[report_asset])
def publish(plan: dict | None, load: dict | None, db: dict | None, benchmark: dict | None,
            validation: dict | None) -> dict:
    """Render the report, record the run in the results DB and publish, whatever the verdict."""
    from include.pipelines.publishing import publish_run

    ctx = get_current_context()
    return publish_run(ctx, plan=plan, load=load, db=db, benchmark=benchmark, validation=validation)


@task(task_id="verdict", trigger_rule=TriggerRule.NONE_SKIPPED)
def verdict(publication: dict | None) -> dict:
    """Fail the DAG run (without retrying: AirflowFailException) unless the verdict is pass."""
    from airflow.sdk.exceptions import AirflowFailException

    if not publication:
        raise AirflowFailException("no verdict: the run failed before publishing (see the failed task's log)")
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
    benchmark = db_benchmark()
    db >> benchmark
    validation = validate(plan, load, benchmark)
    publication = publish(plan, load, db, benchmark, validation)
    return publication, verdict(publication)


def build_perf_dag(dag_id: str, profile: str, *, schedule=None, fail_on_regression: bool = False, doc_md: str,
                   tags: list[str]):
    """A performance DAG for one profile; the smoke, load and stress DAGs all come from here.

    The threshold file is checked here, at parse time, so a malformed one shows as a DAG import error
    naming the file, field and value.
    """
    from include.perfpipe.validation import load_thresholds

    load_thresholds(profile=profile)

    @dag(
        dag_id=dag_id, schedule=schedule, start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=1,
        is_paused_upon_creation=schedule is not None,  # a schedule starts loading a target only once unpaused
        doc_md=doc_md, tags=["perfpipe", *tags], default_args=DEFAULT_ARGS,
        params=perf_params(profile, fail_on_regression),
        render_template_as_native_obj=True,
    )
    def perf_dag():
        perf_pipeline()

    return perf_dag()
