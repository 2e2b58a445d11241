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
SCENARIOS = {  # scenario file -> what the error must name (a value read from a file only by its kind)
    "yaml syntax": ("endpoints:\n  - {name: a, path: /x\n", ["line 3", "not valid YAML"]),
    "headers list": ("headers: [x]\nendpoints:\n  - {name: a, path: /x}\n", ["headers", "got a list; line 1"]),
    "control character in a path": ('endpoints:\n  - {name: a, path: "/x\\x01y"}\n', ["target", "'\\x01'"]),
    "weight not a number": ("endpoints:\n  - {name: a, path: /x, weight: heavy}\n", ["weight", "got a string; line 2"]),
}
PROFILES = {  # profiles.yaml -> what the error must name
    "not a mapping": ("- smoke\n- load\n", ["expected a mapping", "got a list; line 1, column 1"]),
    "infinite target": (
        "profiles:\n  smoke: {model: closed, stages: [{duration: 10s, target: .inf}]}\n",
        ["profiles.smoke.stages[0].target", "got a number that is not finite; line 2"],
    ),
    "max_vus not a number": ("limits: {max_vus: lots}\n" + PROFILE, ["limits.max_vus", "got a string; line 1"]),
    "limits not a mapping": ("limits: [1]\n" + PROFILE, ["limits", "got a list; line 1"]),
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
    _refused(lambda: load_thresholds(thresholds), str(thresholds), "suites", "got a list; line 3")
    _refused(lambda: load_thresholds(overrides='{"api": '), "overrides", "not valid JSON")
    queries = tmp_path / "queries.yaml"
    queries.write_text("queries:\n  - {sql: 'SELECT 1', weight: many}\n")
    _refused(lambda: load_queries(queries), str(queries), "queries[0].weight", "got a string; line 2")


def test_cli_prints_one_line_and_exits_3(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PERFPIPE_CONFIG_DIRS", str(tmp_path))
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
    monkeypatch.setenv("PERFPIPE_CONFIG_DIRS", str(tmp_path))
    with pytest.raises(AirflowFailException, match=r"bad input: .*bad.yaml: headers: .*got a list; line 1"):
        _run_preflight(monkeypatch, scenario=str(scenario))
    with pytest.raises(AirflowFailException, match=r"bad input: duration: .*'0s'"):
        _run_preflight(monkeypatch, duration="0s")


def test_preflight_refuses_a_bad_apply_allowlist_before_the_load(monkeypatch):
    """A wildcard entry of ``perfpipe_db_apply_allowlist`` was refused only by db_stage, after the load, and
    retried; preflight refuses it once when index changes are to be applied, and ignores it otherwise."""
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setattr("include.pipelines.targets.db_apply_allowlist", lambda: ["public.orders*"])
    with pytest.raises(AirflowFailException, match=r"bad input: perfpipe_db_apply_allowlist: 'public.orders\*'"):
        _run_preflight(monkeypatch, db_stage=True, apply_recommendations=True)
    monkeypatch.setattr("include.perfpipe.runs.plan_run", lambda *args, **kwargs: "planned")
    with pytest.raises(RuntimeError, match=r"target http://127.0.0.1:9 .* is unreachable"):  # past the inputs
        _run_preflight(monkeypatch, db_stage=True, apply_recommendations=False)


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
    assert f"bad input: {scenario}: headers: Input should be a valid dictionary (got a list; line 1, column 10)" in log
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


PLANTED = "AKIAPLANTED7Q2X"  # a value no error may repeat
PGPASS = f"db.internal:5432:orders:admin:{PLANTED}\n"


def test_a_file_outside_the_config_folders_is_refused_naming_the_path_only(tmp_path, monkeypatch):
    """Issue 23 finding 1: absolute, ``..`` and symlinked paths out of the config folders are refused unread."""
    from include.perfpipe.config_files import CONFIG_DIR, config_file

    secret = tmp_path / "pgpass"
    secret.write_text(PGPASS)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "escape.yaml").symlink_to(secret)
    monkeypatch.setenv("PERFPIPE_CONFIG_DIRS", str(allowed))
    upward = "../" * len(CONFIG_DIR.parts) + str(secret).lstrip("/")
    for path in (str(secret), upward, str(allowed / "escape.yaml"), "escape.yaml"):
        error = _refused(lambda path=path: config_file(path, "scenario"), "scenario", "outside the folders")
        assert PLANTED not in str(error)
    (allowed / "mine.yaml").write_text("endpoints:\n  - {name: a, path: /x}\n")
    assert config_file("mine.yaml", "scenario") == allowed / "mine.yaml"


def test_the_cli_and_preflight_refuse_etc_passwd_without_printing_it(tmp_path, capsys, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    code = main(["loadtest", "--target", "http://127.0.0.1:9", "--scenario", "/etc/passwd", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    summary = (tmp_path / "summary.json").read_text()
    assert code == 3 and "'/etc/passwd' is outside the folders" in err
    assert "root:" not in err + summary
    with pytest.raises(AirflowFailException, match="'/etc/passwd' is outside the folders") as caught:
        _run_preflight(monkeypatch, scenario="/etc/passwd")
    assert "root:" not in str(caught.value)
    with pytest.raises(AirflowFailException, match="db_queries: '/etc/passwd' is outside"):
        _run_preflight(monkeypatch, db_benchmark=True, db_queries="/etc/passwd")


READERS = {  # how each parser reads a file -> (file text that plants the value, field or line the error names)
    "scenario: unknown field": (lambda p: load_spec(scenario=p), f"api_key: {PLANTED}\n", "api_key"),
    "scenario: a .pgpass line": (lambda p: load_spec(scenario=p), PGPASS, "line 1, column 1"),
    "scenario: a bad method": (
        lambda p: load_spec(scenario=p),
        f"endpoints:\n  - {{name: a, path: /x, method: {PLANTED}}}\n",
        "endpoints[0].method",
    ),
    "profiles: a .pgpass line": (lambda p: load_spec(profiles_file=p), PGPASS, "line 1, column 1"),
    "profiles: a bad stage": (
        lambda p: load_spec(profiles_file=p),
        f"profiles:\n  smoke: {{stages: [{{duration: {PLANTED}, target: 1}}]}}\n",
        "profiles.smoke.stages[0].duration",
    ),
    "profiles: a bad limit": (lambda p: load_spec(profiles_file=p), f"limits: {{max_vus: {PLANTED}}}\n", "line 1"),
    "thresholds: a .pgpass line": (load_thresholds, PGPASS, "line 1, column 1"),
    "thresholds: a bad limit": (
        load_thresholds,
        f"classes: [api]\nsuites: {{s: {{thresholds: {{api: {{p95_ms: {PLANTED}}}}}}}}}\n",
        "suites.s.thresholds.api.p95_ms",
    ),
    "db_queries: a .pgpass line": (load_queries, PGPASS, "line 1, column 1"),
    "db_queries: a bad weight": (load_queries, f"queries:\n  - {{sql: SELECT 1, weight: {PLANTED}}}\n", "line 2"),
}


@pytest.mark.parametrize("case", READERS)
def test_no_error_repeats_a_value_read_from_a_file(case, tmp_path):
    """Issue 23 finding 1: a parser names the file, the field, the kind of value and its line, never the value."""
    read, text, named = READERS[case]
    path = tmp_path / "planted.yaml"
    path.write_text(text)
    error = _refused(lambda: read(path), str(path), named)
    assert PLANTED not in str(error)


MALFORMED = {  # issue 23 finding 12: each once escaped the one-line error
    "3,000-deep nesting": ("endpoints: " + "[" * 3000 + "]" * 3000 + "\n", "exceeded maximum nesting depth"),
    "100-deep nesting": ("endpoints: " + "[" * 100 + "]" * 100 + "\n", "nested deeper than 64 levels at line 1"),
    "not UTF-8": (b"endpoints:\n  - {name: caf\xe9, path: /x}\n", "not UTF-8 text (byte 25, line 2)"),
    "NaN in a JSON body": (
        "endpoints:\n  - {name: a, path: /x, method: POST, json: {a: .nan}}\n",
        "endpoints[0].json: NaN and Infinity are not JSON",
    ),
    "a URL that does not parse": ('endpoints:\n  - {name: a, url: "http://[::1/x"}\n', "url: not a valid URL"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_files_give_one_line_naming_the_file(case, tmp_path):
    text, named = MALFORMED[case]
    path = tmp_path / "bad.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    error = _refused(lambda: load_spec(scenario=path), named)
    assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
    if case != "a URL that does not parse":
        with pytest.raises(ConfigError, match=f"^{path}: "):
            load_queries(path)


def test_a_deep_or_undecodable_feeder_is_refused_naming_it(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 3000 + "]" * 3000)
    (tmp_path / "latin1.csv").write_bytes(b"name\ncaf\xe9\n")
    for feeder in ("deep.json", "latin1.csv"):
        path = tmp_path / "s.yaml"
        path.write_text(f"feeders:\n  f: {{file: {feeder}}}\njourney:\n  steps: [{{path: /x}}]\n")
        _refused(lambda path=path: load_spec(scenario=path), "feeders.f.file", feeder)
