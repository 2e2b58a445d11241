"""Fault matrix row 22: tools/release_gate.sh against a failing Airflow (a fake REST API on loopback): a 500 from
/auth/token, a server that never answers and a run that never ends each end the gate with exit 3 ("could not
tell") and one line saying why, within CALL_TIMEOUT_SECONDS and GATE_TIMEOUT_SECONDS."""

import socket
import subprocess
import time

from tests.unit.tools.fake_airflow import fake_airflow, gate


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    return line


def test_a_login_answered_with_500_is_could_not_tell(tmp_path):
    with fake_airflow(token_status=500) as (server, url):
        done = gate(url, tmp_path)
    assert len(server.logins) == 1
    assert _one_line_error(done) == 'login (POST /auth/token): HTTP 500: {"detail": "Internal Server Error"}'


def test_a_server_that_never_answers_is_given_up_after_the_call_timeout(tmp_path):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        done = gate(f"http://127.0.0.1:{silent.getsockname()[1]}", tmp_path, CALL_TIMEOUT_SECONDS="1")
        took = time.monotonic() - started
    assert _one_line_error(done).startswith("login (POST /auth/token): (28) Operation timed out after")
    assert took < 30  # curl's own limit, not the test's 60 s timeout, ended it


def test_a_run_that_never_ends_is_given_up_at_the_gate_deadline(tmp_path):
    with fake_airflow(states=("running",)) as (_, url):
        done = gate(url, tmp_path, GATE_TIMEOUT_SECONDS="2", POLL_SECONDS="1")
    assert done.returncode == 3, done.stderr
    # the deadline ends the poll loop (or, on a slow machine, an earlier call): either way one line names it
    assert "GATE_TIMEOUT_SECONDS=2" in done.stderr.strip().splitlines()[-1], done.stderr
    assert done.stdout == ""
