"""The Airflow 3 trigger form submits with its defaults on every DAG.

The form treats a field as required when its schema type does not include "null", and a required field
holding None or "" disables the Trigger button (the rule of the UI's FlexibleForm). Every default must
also pass Airflow's own Param validation, which the API server runs on the submitted conf.
"""

from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[3] / "dags"


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def form_requires(schema: dict) -> bool:
    """The UI's rule: a typed field whose type does not include "null" is required."""
    kinds = schema.get("type")
    return bool(kinds) and "null" not in (kinds if isinstance(kinds, list) else [kinds])


def form_blockers(dag) -> list[str]:
    """The fields that keep the Trigger button disabled, or fail validation, when nothing is changed."""
    from airflow.sdk.definitions.param import ParamValidationError

    blockers = []
    for name in dag.params:
        param = dag.params.get_param(name)
        if form_requires(param.schema) and param.value in (None, ""):
            blockers.append(f"{name}: empty default {param.value!r} counts as required")
            continue
        try:
            param.resolve(param.value)
        except ParamValidationError as exc:
            blockers.append(f"{name}: {exc}")
    return blockers


def test_every_dag_form_triggers_with_its_defaults(dag_bag):
    assert dag_bag.dags
    for dag_id, dag in dag_bag.dags.items():
        assert form_blockers(dag) == [], dag_id


def test_an_empty_string_default_blocks_the_form():
    from airflow.sdk import DAG, Param

    dag = DAG(
        "form_probe",
        schedule=None,
        params={
            "version": Param("", type="string", description="label"),
            "label": Param(None, type=["null", "string"], description="label"),
        },
    )
    assert form_blockers(dag) == ["version: empty default '' counts as required"]


def test_form_limits_are_the_engine_caps():
    from include.perfpipe.loadtest import load_spec
    from include.perfpipe.loadtest.profiles import load_profiles
    from include.pipelines.run_form import perf_params

    caps, params = load_profiles()["limits"].model_dump(), perf_params("smoke")
    assert params["vus"].schema["maximum"] == caps["max_vus"]
    assert params["rate"].schema["maximum"] == caps["max_rate"]
    assert caps["max_duration"] in params["duration"].description
    target = "http://127.0.0.1:8000"
    load_spec(profile="smoke", target=target, overrides={"vus": caps["max_vus"]})  # the form's maximum runs
    with pytest.raises(ValueError, match="vus: .* exceeds the cap"):
        load_spec(profile="smoke", target=target, overrides={"vus": caps["max_vus"] + 1})


def test_file_fields_are_relative_to_include_config_or_a_folder_of_the_variable(tmp_path, monkeypatch):
    from include.perfpipe.errors import ConfigError
    from include.pipelines.run_form import CONFIG_DIR, config_file, perf_params

    params = perf_params("smoke")
    for name in ("scenario", "db_queries"):
        assert not params[name].value.startswith("/")  # no checkout path in the form
        assert (CONFIG_DIR / params[name].value).is_file()
        assert config_file(params[name].value, name) == str(CONFIG_DIR / params[name].value)
    (tmp_path / "mine.yaml").write_text("queries: [SELECT 1]\n")
    with pytest.raises(ConfigError, match=r"scenario: '.*mine.yaml' is outside the folders"):
        config_file(str(tmp_path / "mine.yaml"), "scenario")
    monkeypatch.setenv("AIRFLOW_VAR_PERFPIPE_CONFIG_DIRS", str(tmp_path))
    assert config_file(str(tmp_path / "mine.yaml"), "scenario") == str(tmp_path / "mine.yaml")
    assert config_file("mine.yaml", "scenario") == str(tmp_path / "mine.yaml")  # looked up in the folders
    assert config_file(None, "scenario") is None and config_file("", "scenario") is None


def test_each_profile_dag_offers_only_its_profile(dag_bag):
    expected = {"perf_smoke": "smoke", "perf_load": "load", "perf_stress": "stress", "perf_regression_nightly": "load"}
    for dag_id, profile in expected.items():
        assert dag_bag.dags[dag_id].params.get_param("profile").schema["enum"] == [profile]


def test_processes_defaults_to_auto_and_takes_a_count_from_1_to_16():
    from airflow.sdk.definitions.param import ParamValidationError

    from include.perfpipe.loadtest.engine.runner import resolve_processes
    from include.pipelines.run_form import perf_params

    param = perf_params("smoke")["processes"]
    assert param.value == "auto" and resolve_processes(param.resolve("auto")) >= 1
    assert [param.resolve(n) for n in (1, 16)] == [1, 16]
    for bad in (0, 17, "2", "many"):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)
