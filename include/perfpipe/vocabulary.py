"""The short vocabulary the stages share, defined once and imported where it is used.

Comparison operators of limits and rules, the names of the environment variables and Airflow
connections, and the SQLAlchemy driver suffix a libpq DSN drops. The verdicts live in
``validation/verdict.py``, the duration format in ``durations.py``, the allowlist precedence in
``loadtest/http/target.py``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

OPERATORS = ("<", "<=", ">", ">=")
UPPER_BOUNDS = ("<", "<=")  # a limit the value must stay under (latency, error rate)
LOWER_BOUNDS = (">", ">=")  # a limit the value must reach (throughput)
_HOLDS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
OPERATOR_RE = "|".join(re.escape(op) for op in sorted(OPERATORS, key=len, reverse=True))  # longest first


def holds(op: str, observed: float, limit: float) -> bool:
    """Whether ``observed op limit`` holds (``op`` one of ``OPERATORS``)."""
    return _HOLDS[op](observed, limit)


# The regression gate's outcome of a run (stored with it): a run the gate failed or called an outlier is never a
# baseline unless the user marks it (accepts it as the new normal).
GATE_STATUSES = ("regression", "outlier", "improvement", "unchanged", "accepted", "unknown")
NOT_BASELINE = ("regression", "outlier")

# environment variables
RESULTS_DB_ENV = "PERFPIPE_DB_URL"  # results store (and target DB of the CLIs)
REPORTS_URL_ENV = "PERFPIPE_REPORTS_URL"  # where reports are published (s3://, gs://, file://)
REPORTS_DIR_ENV = "PERFPIPE_REPORTS_DIR"  # the local folder reports are rendered into
ALLOWLIST_ENV = "PERFPIPE_TARGET_ALLOWLIST"  # comma-separated hosts a load test may hit
CONFIG_DIRS_ENV = "PERFPIPE_CONFIG_DIRS"  # comma-separated folders scenario and query files may come from

# Airflow connections and variables
TARGET_HTTP_CONN = "perf_target_http"
TARGET_DB_CONN = "perf_target_db"
RESULTS_DB_CONN = "perf_results_db"
ALLOWLIST_VARIABLE = "perfpipe_target_allowlist"
DEFAULT_ENGINE = "perfpipe"  # the in-house load engine, the name a plan carries (runs.engine_registry.ENGINES)
CONFIG_DIRS_VARIABLE = "perfpipe_config_dirs"

_DSN_DRIVER = re.compile(r"^postgres(?:ql)?\+[a-z0-9_]+://")


def libpq_dsn(dsn: str) -> str:
    """A libpq DSN; SQLAlchemy-style URLs (``postgresql+psycopg://``, as hooks return them) lose the driver."""
    return _DSN_DRIVER.sub("postgresql://", dsn)
