"""The trigger form of the performance DAGs: Params whose defaults submit as they are, whose limits are the
engine's caps (``limits`` in include/config/profiles.yaml), and whose file fields take paths inside
include/config/ or a folder of the ``perfpipe_config_dirs`` Variable (``config_file``).

The Airflow UI counts a field as required unless its type allows null, so every optional field is nullable.
"""

from __future__ import annotations

from airflow.sdk import Param

from include.perfpipe.config_files import CONFIG_DIR
from include.perfpipe.durations import DURATION_PATTERN
from include.perfpipe.vocabulary import TARGET_DB_CONN, TARGET_HTTP_CONN
from include.pipelines.form_fields import switch
from include.pipelines.tuning import tuning_params

DEFAULT_SCENARIO = "scenarios/demo.yaml"
DEFAULT_DB_QUERIES = "db_queries.yaml"
K6_SCRIPTS = {"smoke": "k6/load-test-smoke.js", "load": "k6/load-test.js", "stress": "k6/load-test-stress.js"}


def config_file(value: str | None, field: str) -> str | None:
    """A file field's path: relative to include/config/ (``scenarios/demo.yaml``) or a folder of the Airflow
    Variable ``perfpipe_config_dirs``, and inside one of them; ``ConfigError`` naming the path otherwise."""
    if not value:
        return None
    from include.perfpipe.config_files import config_file as confined
    from include.pipelines.targets import config_folders

    return str(confined(value, field, config_folders()))


def _profiles() -> dict:
    from include.perfpipe.loadtest.profiles import load_profiles

    return load_profiles(CONFIG_DIR / "profiles.yaml")


def engine_limits() -> dict:
    """The engine's hard caps: ``{"max_vus", "max_rate", "max_duration"}`` (the ones load_spec applies)."""
    return _profiles()["limits"].model_dump()


def _describe_profile(name: str) -> str:
    """E.g. ``smoke (closed model, stages 1m → 1 VUs)``: a profile and its stages, for the form."""
    raw = _profiles()["profiles"][name]
    unit = "req/s" if raw.get("model") == "open" else "VUs"
    stages = ", ".join(f"{s['duration']} → {s['target']}" for s in raw["stages"])
    return f"{name} ({raw.get('model', 'closed')} model, stages {stages} {unit})"


def perf_params(profile: str, fail_on_regression: bool = False) -> dict[str, Param]:
    """The run form of a DAG that runs ``profile``; empty fields keep the profile's own values."""
    limits = engine_limits()
    cap = f"at most {limits['max_vus']} (limits.max_vus in include/config/profiles.yaml)"
    return {
        "profile": Param(
            profile,
            type="string",
            enum=[profile],
            title="Profile",
            description=f"Fixed for this DAG: {_describe_profile(profile)}, from "
            "include/config/profiles.yaml. Other profiles run from their own DAGs.",
            section="Load",
        ),
        "vus": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=limits["max_vus"],
            title="Virtual users",
            description=f"Hold this many virtual users for the whole run instead of the profile's stages, "
            f"e.g. 10 (with an arrival rate: the cap on requests in flight). Empty: the "
            f"profile's stages. {cap[0].upper()}{cap[1:]}.",
            section="Load",
        ),
        "duration": Param(
            None,
            type=["null", "string"],
            pattern=DURATION_PATTERN,
            title="Duration",
            description="Run length as a number and a unit (ms, s, m or h; none: seconds), e.g. 20s, 1.5m or 1h: the "
            "profile's stages are scaled to it (with Virtual users or Arrival rate set, that "
            f"level is held for it). Empty: the profile's own length. At most "
            f"{limits['max_duration']}.",
            section="Load",
        ),
        "rate": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            maximum=limits["max_rate"],
            title="Arrival rate",
            description="Open model: send this many requests per second whatever the response times, "
            f"e.g. 50. Empty: the profile's closed model. At most {limits['max_rate']:g} "
            "(limits.max_rate).",
            section="Load",
        ),
        "scenario": Param(
            DEFAULT_SCENARIO,
            type="string",
            minLength=1,
            title="Scenario file",
            description="YAML file of endpoints (weights, classes, expected statuses) or a journey "
            "(docs/scenarios.md), relative to include/config/, e.g. scenarios/demo.yaml, or inside a folder "
            "of the perfpipe_config_dirs Variable; any other path is refused.",
            section="Load",
        ),
        "k6_script": Param(
            None,
            type=["null", "string"],
            title="k6 script",
            description="Run this k6 script instead of the scenario (docs/k6.md), relative to include/config/, "
            f"e.g. {K6_SCRIPTS.get(profile, K6_SCRIPTS['load'])}; it keeps its own options (scenarios, stages, "
            "thresholds), which Virtual users, Duration and (when switched on) the profile's stages override. "
            "Its thresholds join the verdict. "
            "Empty: our engine runs the scenario.",
            section="Load",
        ),
        "profile_stages": switch(
            False,
            "k6: the profile's stages",
            "With a k6 script: run this profile's stages (scaled to Duration, or held at Virtual "
            "users) instead of the script's own scenarios, as k6 run --stage does; closed-model profiles only. "
            "Off: the script's own scenarios and stages.",
            "Load",
        ),
        "shards": Param(
            1,
            type="integer",
            minimum=1,
            maximum=16,
            title="Shards",
            description="Worker tasks sharing the load (dynamic task mapping), e.g. 2 on two Celery "
            "workers; they start and stop together.",
            section="Scale",
        ),
        "processes": Param(
            "auto",
            type=["string", "integer"],
            enum=["auto", *range(1, 17)],
            title="Processes per shard",
            description="Event loops per worker task: auto is one per core the task may use, or a count from 1 to 16.",
            section="Scale",
        ),
        "load_queue": Param(
            None,
            type=["null", "string"],
            title="Load queue",
            description="Celery queue of the load_test tasks, e.g. perfpipe_load (empty: the "
            "default queue). Preflight checks the shards fit its free slots.",
            section="Scale",
        ),
        "start_delay": Param(
            "20s",
            type="string",
            pattern=DURATION_PATTERN,
            title="Shard start delay",
            description="With several shards, all start together this long after preflight, "
            "e.g. 20s; raise it when workers are slow to pick tasks up.",
            section="Scale",
        ),
        "prometheus": Param(
            None,
            type=["null", "string"],
            pattern=r"^((\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):)?[0-9]{1,5}$",
            title="Live Prometheus endpoint",
            description="While the load test runs, serve its per-second metrics for Prometheus at PORT "
            "(on 127.0.0.1) or HOST:PORT, shard i on PORT + i (empty: off).",
            section="Scale",
        ),
        "target_conn_id": Param(
            TARGET_HTTP_CONN,
            type="string",
            minLength=1,
            title="Target connection",
            description="HTTP connection of the service under test (Admin → Connections); "
            "its host must be in the perfpipe_target_allowlist Variable.",
            section="Target",
        ),
        "db_conn_id": Param(
            TARGET_DB_CONN,
            type="string",
            minLength=1,
            title="Target DB connection",
            description="Postgres connection of the service's database, used by the database "
            "stage and the query benchmark.",
            section="Target",
        ),
        "version": Param(
            None,
            type=["null", "string"],
            title="Version label",
            description="Release or git sha recorded with the run, e.g. v1.4.0. Optional.",
            section="Target",
        ),
        "thresholds": Param(
            {},
            type="object",
            title="Threshold overrides",
            description="Per-class overrides of include/config/thresholds.yaml, e.g. "
            '{"api": {"p95_ms": 300}}. Empty {}: the file\'s thresholds.',
            section="Validation",
        ),
        "db_stage": switch(
            True,
            "Database stage",
            "Snapshot pg_stat_statements before the load, then inspect the target DB and "
            "VACUUM (ANALYZE) it table by table.",
            "Database",
        ),
        "db_benchmark": switch(
            False,
            "DB query benchmark",
            "Run the query-latency benchmark after the load test.",
            "Database",
        ),
        "db_queries": Param(
            DEFAULT_DB_QUERIES,
            type=["null", "string"],
            title="Benchmark queries",
            description="YAML file of read-only queries to benchmark, relative to include/config/, "
            "e.g. db_queries.yaml, or inside a folder of the perfpipe_config_dirs Variable. Empty: the top "
            "statements of pg_stat_statements.",
            section="Database",
        ),
        "db_connections": Param(
            100,
            type="integer",
            minimum=1,
            maximum=1000,
            title="Benchmark connections",
            description="Concurrent benchmark connections, e.g. 100; fewer when the server has "
            "fewer free connection slots.",
            section="Database",
        ),
        "db_duration": Param(
            "30s",
            type="string",
            pattern=DURATION_PATTERN,
            title="Benchmark duration",
            description="How long the benchmark runs, e.g. 30s or 2m.",
            section="Database",
        ),
        "db_rate": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            maximum=100000,
            title="Benchmark rate",
            description="Start this many queries/s in total over the connections, e.g. 500 (latency "
            "counted from the intended start; a query finding every connection busy is dropped and "
            "counted). Empty: back to back.",
            section="Database",
        ),
        "apply_recommendations": switch(
            False,
            "Apply DB recommendations",
            "Run the recommended index changes (CONCURRENTLY) on objects in the "
            "perfpipe_db_apply_allowlist Variable. Off: advice only.",
            "Database",
        ),
        **tuning_params(),
        "mark_baseline": switch(
            False,
            "Mark as baseline",
            "Accept this run as the new normal: if it meets its thresholds it becomes the baseline even "
            "when it is worse than the runs before it (the regression gate does not fail it), and later runs of the "
            "same target, profile and workload are judged against it.",
            "Regression",
        ),
        "fail_on_regression": switch(
            fail_on_regression,
            "Fail on regression",
            "Fail the run when it is significantly worse than its baseline (a comparable earlier run).",
            "Regression",
        ),
    }
