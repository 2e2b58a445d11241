"""Airflow DAG perf_release_gate: smoke, load and stress before a release, stopping at the first failed gate."""

from include.pipelines.release_gate import build_release_gate_dag

dag = build_release_gate_dag(
    "perf_release_gate",
    doc_md="""
### Release gate
Runs the **smoke**, **load** and **stress** profiles in that order against the target, each with the DB
stage before and after, GX validation and a report. The first profile that does not pass closes the
gate: later ones are skipped. The task `release_verdict` ends the run red or green and pushes the
verdict to XCom (key `release_verdict`), so a CI job can read it through the REST API (see README).
""",
)
