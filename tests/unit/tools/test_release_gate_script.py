"""tools/release_gate.sh against a fake Airflow REST API on loopback: the password (quotes and backslashes
in it) arrives intact as JSON, neither it nor the token reaches curl's argv, every call has --max-time, one
failed poll is retried, the verdict is the exit code, and a bad CONF_JSON is one line. Failing servers:
tests/faults/test_release_gate_faults.py."""

import json

import pytest

from tests.unit.tools.fake_airflow import PASSWORD, TOKEN, fake_airflow, gate


def test_release_gate_keeps_secrets_out_of_argv_escapes_json_and_retries_a_poll(tmp_path):
    with fake_airflow() as (server, url):
        done = gate(url, tmp_path, 'v1 "quoted"')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"verdict": "pass"}
    assert server.logins == [{"username": "ci", "password": PASSWORD}]
    assert "1 in a row" in done.stderr and server.polls == 3
    argv = (tmp_path / "argv.log").read_text()
    assert argv.count("\n") == 6 and PASSWORD not in argv and TOKEN not in argv
    assert argv.count("--max-time") == 6  # every call is bounded


@pytest.mark.parametrize(("verdict", "code"), [("invalid", 2), ("pass", 1)])  # pass: a run failed after its gates
def test_the_exit_code_is_the_verdict(tmp_path, verdict, code):
    with fake_airflow(states=("failed",), verdict=verdict) as (_, url):
        done = gate(url, tmp_path)
    assert done.returncode == code, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"verdict": verdict}


def test_a_conf_that_is_not_a_json_object_is_refused_in_one_line(tmp_path):
    with fake_airflow() as (server, url):
        done = gate(url, tmp_path, "v1", "[1, 2]")
    assert done.returncode == 3 and done.stderr == "CONF_JSON must be a JSON object, got list\n"
    assert server.logins == []
