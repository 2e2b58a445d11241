"""Airflow DAG perf_load: ramp to 200 virtual users in k6-style stages."""

from include.pipelines.perf_dag import build_perf_dag

dag = build_perf_dag(
    "perf_load",
    profile="load",
    tags=["load"],
    doc_md="""
### Load test
Ramps to 200 virtual users through the `load` stages of `include/config/profiles.yaml`, holds, and ramps
down. Steady-state thresholds exclude the ramps. Use **Shards** to spread the users over worker tasks.
""",
)
