"""Airflow DAG perf_regression_nightly: the load profile every night, compared with the baseline."""

from include.pipelines.perf_dag import build_perf_dag

dag = build_perf_dag(
    "perf_regression_nightly",
    profile="load",
    schedule="0 2 * * *",
    fail_on_regression=True,
    tags=["regression", "nightly"],
    doc_md="""
### Nightly regression
Runs the **load** profile at 02:00 every night (catchup off, one run at a time) and compares it with the
baseline of the same target and profile: the run marked as baseline, else the last passing run. A
statistically significant regression fails the run and notifies when a notifier connection is set.
The report shows the trend over the last runs with change points marked.
""",
)
