"""Airflow DAG db_maintenance: weekly database insights and a safe VACUUM (ANALYZE), without load."""

from include.pipelines.maintenance import build_db_maintenance_dag

dag = build_db_maintenance_dag(
    "db_maintenance",
    schedule="0 3 * * 0",
    doc_md="""
### Weekly database maintenance
Inspects the target database (slow queries, unused, duplicate and invalid indexes, cache hit rate,
bloat, wraparound, sequences, long-running and blocked queries), then runs VACUUM (ANALYZE) table by
table with a lock timeout: a locked table is skipped and reported, never waited on. Index changes are
only recommended unless `apply_recommendations` is on and the object is in `perfpipe_db_apply_allowlist`.
""",
)
