"""Airflow DAG perf_stress: ramp to 400 virtual users to find where the target bends."""

from include.pipelines.perf_dag import build_perf_dag

dag = build_perf_dag(
    "perf_stress",
    profile="stress",
    tags=["stress"],
    doc_md="""
### Stress test
Ramps to 400 virtual users (`stress` in `include/config/profiles.yaml`). Expect thresholds to break here:
the report shows at which stage latency and errors climbed.
""",
)
