"""The DAG form's duration fields accept exactly what the duration parser accepts (one format, durations.py)."""

import pytest

from include.perfpipe.durations import parse_duration
from include.pipelines.run_form import perf_params

ACCEPTED = ["30", "30s", "1.5m", "500ms", "2h", " 20s ", "0.25s"]
REFUSED = ["", "abc", "1.5.0s", "-3s", "1d", "s", "1 m s", "30sec"]
FIELDS = ["duration", "start_delay", "db_duration"]


def _form_accepts(param, value: str) -> bool:
    from airflow.sdk.definitions.param import ParamValidationError

    try:
        param.resolve(value)
    except ParamValidationError:
        return False
    return True


def _parser_accepts(value: str) -> bool:
    try:
        parse_duration(value, "probe")
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", ACCEPTED + REFUSED)
def test_form_and_parser_agree(field, value):
    param = perf_params("smoke")[field]
    assert _form_accepts(param, value) == _parser_accepts(value) == (value in ACCEPTED)


def test_a_db_benchmark_longer_than_its_task_can_run_is_refused():
    from include.perfpipe.errors import ConfigError
    from include.pipelines.perf_dag import benchmark_plan

    params = {"db_connections": 4, "db_queries": None, "db_rate": None}
    assert benchmark_plan({**params, "db_duration": "18m"}).duration_s == 1080  # 20 min less 60 s and a 30 s drain
    with pytest.raises(
        ConfigError, match=r"db_duration: '30m' does not fit .* 0:20:00 execution_timeout: at most 1110s"
    ):
        benchmark_plan({**params, "db_duration": "30m"})
