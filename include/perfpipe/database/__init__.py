"""PostgreSQL optimisation stage: PgHero-grade insights, safe maintenance and a query-latency benchmark.

Airflow-free; every entry point takes a libpq DSN/URL string.
"""

from .benchmark import load_queries, run_query_benchmark
from .budget import Budget
from .config import DEFAULT_THRESHOLDS, load_config
from .inspect import CHECKS, inspect_database
from .maintenance import apply_recommendations, vacuum_analyze
from .statements import snapshot_statements, statements_delta, top_queries
from .tables import table_stats

__all__ = [
    "CHECKS",
    "Budget",
    "DEFAULT_THRESHOLDS",
    "apply_recommendations",
    "inspect_database",
    "load_config",
    "load_queries",
    "run_query_benchmark",
    "snapshot_statements",
    "statements_delta",
    "table_stats",
    "top_queries",
    "vacuum_analyze",
]
