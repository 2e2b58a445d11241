"""Fault matrix row 10: every bad input is refused at once with a ``PerfpipeError`` naming the field and the
value; the CLI says so on one line with exit code 3; invalid Params never start a run; preflight refuses
bad input without a retry and lets a bug be retried."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from include.perfpipe.cli import main
from include.perfpipe.database.benchmark import load_queries
from include.perfpipe.errors import ConfigError, PerfpipeError
from include.perfpipe.loadtest import load_spec
from include.perfpipe.validation import load_thresholds

PROFILE = "profiles:\n  smoke: {model: closed, stages: [{duration: 10s, target: 1}]}\n"
SCENARIOS = {  # scenario file -> what the error must name
    "yaml syntax": ("endpoints:\n  - {name: a, path: /x\n", ["line 3", "not valid YAML"]),
    "headers list": ("headers: [x]\nendpoints:\n  - {name: a, path: /x}\n", ["headers", "['x']"]),
    "control character in a path": ('endpoints:\n  - {name: a, path: "/x\\x01y"}\n', ["target", "'\\x01'"]),
    "weight not a number": ("endpoints:\n  - {name: a, path: /x, weight: heavy}\n", ["weight", "'heavy'"]),
}
PROFILES = {  # profiles.yaml -> what the error must name
    "not a mapping": ("- smoke\n- load\n", ["expected a mapping", "['smoke', 'load']"]),
    "infinite target": (
        "profiles:\n  smoke: {model: closed, stages: [{duration: 10s, target: .inf}]}\n",
        ["profiles.smoke.stages[0].target", "inf"],
    ),
    "max_vus not a number": ("limits: {max_vus: lots}\n" + PROFILE, ["limits.max_vus", "'lots'"]),
    "limits not a mapping": ("limits: [1]\n" + PROFILE, ["limits", "[1]"]),
    "yaml syntax": ("profiles: {smoke: [\n", ["not valid YAML"]),
}


def _refused(call, *named: str) -> PerfpipeError:
    with pytest.raises(ConfigError) as caught:
        call()
    for text in named:
        assert text in str(caught.value), (text, str(caught.value))
    return caught.value


@pytest.mark.parametrize("case", SCENARIOS)
def test_bad_scenario_is_refused_naming_the_field(case, tmp_path):
    text, named = SCENARIOS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    error = _refused(lambda: load_spec(scenario=path), *named)
    assert str(path) in str(error) or "target" in str(error)


@pytest.mark.parametrize("case", PROFILES)
def test_bad_profiles_file_is_refused_naming_the_field(case, tmp_path):
    text, named = PROFILES[case]
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    _refused(lambda: load_spec(profiles_file=path), *named)


def test_control_character_in_the_target_is_refused():
    _refused(lambda: load_spec(target="http://127.0.0.1:8000/a\x01b"), "target", "\\x01")


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"duration": "0s"}, ["duration", "0 s"]),
        ({"vus": "lots"}, ["vus", "'lots'"]),
        ({"timeout": "1h"}, ["timeout", "'1h'"]),
        ({"stages": [{"duration": "5s", "target": float("inf")}]}, ["stages[0].target", "inf"]),
        ({"verify_tls": "yes"}, ["verify_tls", "'yes'"]),
    ],
)
def test_bad_overrides_are_refused_naming_the_field(overrides, named):
    _refused(lambda: load_spec(overrides=overrides), *named)


def test_bad_thresholds_and_queries_are_refused(tmp_path):
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text("version: 1\nclasses: [api]\nsuites: [x]\n")
    _refused(lambda: load_thresholds(thresholds), str(thresholds), "suites", "['x']")
    _refused(lambda: load_thresholds(overrides='{"api": '), "overrides", "not valid JSON")
    queries = tmp_path / "queries.yaml"
    queries.write_text("queries:\n  - {sql: 'SELECT 1', weight: many}\n")
    _refused(lambda: load_queries(queries), str(queries), "queries[0].weight", "'many'")


def test_cli_prints_one_line_and_exits_3(tmp_path, capsys):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(SCENARIOS["headers list"][0])
    code = main(["loadtest", "--target", "http://127.0.0.1:9", "--scenario", str(scenario), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 3
    assert [line for line in err.splitlines() if line.startswith("error:")] == [err.strip()]
    assert "headers" in err and "Traceback" not in err
    assert json.loads((tmp_path / "summary.json").read_text())["verdict"] == "error"


def test_cli_exits_3_on_bad_flag_values(tmp_path, capsys):
    code = main(["loadtest", "--target", "http://127.0.0.1:9", "--duration", "soon", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 3 and "duration" in err and "'soon'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("param", "value"), [("vus", "lots"), ("duration", "5 minutes"), ("shards", 0), ("rate", -1), ("db_stage", "no")]
)
def test_invalid_params_are_refused_naming_the_param(param, value):
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    from include.pipelines.run_form import perf_params

    params = ParamsDict(perf_params("smoke"))
    with pytest.raises(ParamValidationError, match=f"param {param}:"):
        params[param] = value


def _run_preflight(monkeypatch, **params):
    """The preflight task's function with a context of the smoke DAG's defaults (and ``params``)."""
    from include.pipelines import perf_dag
    from include.pipelines.run_form import perf_params

    values = {name: param.value for name, param in perf_params("smoke").items()} | params
    ctx = {"params": values, "dag": SimpleNamespace(dag_id="perf_smoke"), "run_id": "manual__x", "ti": None}
    monkeypatch.setattr(perf_dag, "get_current_context", lambda: ctx)
    monkeypatch.setattr("include.pipelines.targets.http_target", lambda conn_id: ("http://127.0.0.1:9", {}))
    return perf_dag.preflight.function()


def test_preflight_refuses_bad_input_without_a_retry(monkeypatch, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    scenario = tmp_path / "bad.yaml"
    scenario.write_text(SCENARIOS["headers list"][0])
    with pytest.raises(AirflowFailException, match=r"bad input: .*bad.yaml: headers: .*\['x'\]"):
        _run_preflight(monkeypatch, scenario=str(scenario))
    with pytest.raises(AirflowFailException, match=r"bad input: duration: .*'0s'"):
        _run_preflight(monkeypatch, duration="0s")


def test_preflight_lets_a_bug_surface_to_be_retried(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    def buggy_plan(*args, **kwargs):
        raise ValueError("a plain bug, not the user's input")

    monkeypatch.setattr("include.perfpipe.runs.plan_run", buggy_plan)
    with pytest.raises(ValueError, match="a plain bug") as caught:
        _run_preflight(monkeypatch)
    assert not isinstance(caught.value, AirflowFailException | PerfpipeError)


@pytest.mark.integration
def test_bad_scenario_fails_preflight_once_in_airflow(airflow_env, dag_runner, demo_service, tmp_path):
    from tests.faults.conftest import run_smoke

    scenario = tmp_path / "bad.yaml"
    scenario.write_text(SCENARIOS["headers list"][0])
    outcome, _ = run_smoke(dag_runner, demo_service, {"duration": "2s", "scenario": str(scenario)})
    log = (Path(airflow_env["PERFPIPE_REPORTS_DIR"]) / "dag_test.log").read_text()
    assert outcome["state"] == "failed"
    assert f"bad input: {scenario}: headers: Input should be a valid dictionary (got ['x'])" in log
    started = [line.split("task_id=")[1].split()[0] for line in log.splitlines() if "starting task_id=" in line]
    assert started.count("preflight") == 1 and "load_test" not in started


@pytest.mark.parametrize(
    "headers",
    [
        "headers: {X-Api-Key: k3y-plant3d}",
        "endpoints:\n  - {name: a, path: /x, headers: {Authorization: Basic k3y-plant3d}}",
    ],
)
def test_a_fixed_credential_header_in_a_scenario_is_refused_without_its_value(headers, tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text(headers + ("\nendpoints:\n  - {name: a, path: /x}\n" if headers.startswith("headers") else "\n"))
    error = _refused(lambda: load_spec(scenario=path), str(path), "credential header", "connection")
    assert "k3y-plant3d" not in str(error)
