"""The fault matrix (docs/RELIABILITY.md) runs DAGs the way the pipeline tests do."""

from tests.integration.pipeline.test_perf_smoke import airflow_env, run_smoke  # noqa: F401 - fixture and helper
