"""Airflow DAG perf_smoke: one virtual user for a minute against the target, judged against the thresholds."""

from include.pipelines.perf_dag import build_perf_dag

dag = build_perf_dag(
    "perf_smoke",
    profile="smoke",
    tags=["smoke"],
    doc_md="""
### Smoke test
One virtual user for one minute (`include/config/profiles.yaml`), then the database stage, GX validation
against `include/config/thresholds.yaml`, and a published report. The run goes **red** when a threshold
is breached, the generator was saturated (*invalid*), or the target was unreachable (*error*).
Change the VUs, duration, scenario or thresholds in the trigger form.
""",
)
