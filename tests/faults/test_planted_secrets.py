"""Fault matrix row 14: a password and an API key planted in the target connection reach the target,
and no artefact of the run: XCom rows, Airflow's files and task logs, the run folder, the store."""

import base64
import contextlib
import json
from pathlib import Path

import psycopg
import pytest

from tests.faults.conftest import run_smoke
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration
PASSWORD, API_KEY = "pl4nted-Passw0rd-7f3a", "pl4nted-api-key-91c2e"
TOKEN = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
PLANTED = [PASSWORD.encode(), API_KEY.encode(), TOKEN.encode()]


def _leaks(data: bytes) -> list[bytes]:
    return [secret for secret in PLANTED if secret in data]


def test_planted_credentials_reach_the_target_and_no_artefact(airflow_env, dag_runner, tmp_path):
    scenario = tmp_path / "one.yaml"
    scenario.write_text("endpoints:\n  - {name: ok, path: /ok, class: api}\n")
    required = (f"Authorization: Basic {TOKEN}", f"X-Api-Key: {API_KEY}")
    with LoopbackServer(require_headers=required) as server:  # 401 without both
        connection = json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": server.port,
                "login": "alice",
                "password": PASSWORD,
                "extra": {"headers": {"X-Api-Key": API_KEY}},
            }
        )
        outcome, run_dir = run_smoke(
            dag_runner, connection, {"duration": "3s", "db_stage": False, "processes": 2, "scenario": str(scenario)}
        )
        served, refused = server.requests, server.unauthorised
    assert served > 0 and refused == 0, (outcome, run_dir)  # every request carried both credentials

    leaks = {}
    for root in (Path(airflow_env["AIRFLOW_HOME"]), Path(airflow_env["PERFPIPE_REPORTS_DIR"])):
        for path in root.rglob("*"):  # task logs, the metadata DB file, dag_test.log, every report file
            if path.is_file() and (found := _leaks(path.read_bytes())):
                leaks[str(path)] = found
    import sqlite3

    with sqlite3.connect(Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db") as meta:
        xcoms = meta.execute("SELECT task_id, value FROM xcom").fetchall()
    assert {"preflight", "load_test", "merge_shards"} <= {task for task, _ in xcoms}
    leaks.update({f"xcom {task}": found for task, value in xcoms if (found := _leaks(str(value).encode()))})
    with psycopg.connect(airflow_env["AIRFLOW_CONN_PERF_RESULTS_DB"]) as store:
        tables = [
            t
            for (t,) in store.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'perfpipe'"
            )
        ]
        for table in tables:
            rows = store.execute(f"SELECT t::text FROM perfpipe.{table} t").fetchall()
            leaks.update({f"store {table}": found for (row,) in rows if (found := _leaks(row.encode()))})
    assert "runs" in tables and not leaks
    bundle = json.loads((run_dir / "bundle.json").read_text())
    assert bundle["loadtest"]["spec"]["secret_headers"] == ["X-Api-Key", "Authorization"]
    assert bundle["loadtest"]["spec"]["credentials_conn_id"] == "perf_target_http"


def test_worker_processes_get_credentials_on_stdin_only(monkeypatch):
    import threading

    import psutil

    from include.perfpipe.loadtest import load_spec, run_load_test

    monkeypatch.setenv("AIRFLOW_CONN_PERF_TARGET_HTTP", f"http://alice:{PASSWORD}@127.0.0.1")
    monkeypatch.setenv("MY_SERVICE_API_KEY", API_KEY)
    secrets = {"X-Api-Key": API_KEY, "Authorization": f"Basic {TOKEN}"}
    with LoopbackServer(require_headers=(f"X-Api-Key: {API_KEY}",)) as server:
        spec = load_spec(
            "smoke", server.url("/ok"), overrides={"vus": 2, "duration": "3s"}, secret_headers=list(secrets)
        )
        runs = []
        thread = threading.Thread(target=lambda: runs.append(run_load_test(spec, processes=2, secret_headers=secrets)))
        thread.start()
        seen = {}
        while thread.is_alive() and len(seen) < 2:  # the workers live ~3 s: read their argv and environment
            for child in psutil.Process().children():  # this run's workers (the session's DAG runner is another)
                with contextlib.suppress(psutil.Error):
                    if "loadtest.engine.worker" in (argv := " ".join(child.cmdline())):
                        seen[child.pid] = argv + "\n".join(child.environ().values())
        thread.join(30)
    (result,) = runs
    assert len(seen) == 2
    assert not [pid for pid, text in seen.items() if _leaks(text.encode())]
    assert result.stats_frame().set_index("name").loc["all", "errors"] == 0  # the key reached the target


def test_the_cli_takes_secrets_from_the_environment_or_a_file_never_from_argv(tmp_path, monkeypatch, capsys):
    """Issue 23 finding 10: ``--header 'X-Api-Key: ...'`` and ``--auth user:pass`` showed in ps and shell history.
    Now they are refused naming the variable to use, and ``$PERFPIPE_HEADER_<NAME>``, ``$PERFPIPE_AUTH`` and
    ``--header-file`` reach the target while no output holds them."""
    from include.perfpipe.cli import main

    monkeypatch.chdir(tmp_path)
    refused = {
        ("--header", f"X-Api-Key: {API_KEY}"): "set $PERFPIPE_HEADER_X_API_KEY or put it in --header-file",
        ("--auth", f"alice:{PASSWORD}"): "set PERFPIPE_AUTH",
    }
    for flag, named in refused.items():
        code = main(["loadtest", "--target", "http://127.0.0.1:9/ok", *flag, "--out", str(tmp_path / "refused")])
        err = capsys.readouterr().err
        assert code == 3 and named in err, err
        assert not _leaks(err.encode() + (tmp_path / "refused" / "summary.json").read_bytes())

    (tmp_path / "headers.txt").write_text(f"X-Api-Key: {API_KEY}\n")
    monkeypatch.setenv("PERFPIPE_AUTH", f"alice:{PASSWORD}")
    required = (f"Authorization: Basic {TOKEN}", f"X-Api-Key: {API_KEY}", "X-Trace-Id: t-1", "X-Tenant: acme")
    monkeypatch.setenv("PERFPIPE_HEADER_X_TENANT", "acme")
    with LoopbackServer(require_headers=required) as server:  # 401 without all four
        code = main(
            ["loadtest", "--target", server.url("/ok"), "--vus", "1", "--duration", "1s", "--processes", "1",
             "--header", "X-Trace-Id: t-1", "--header-file", "headers.txt", "--out", str(tmp_path / "run")]
        )  # fmt: skip
        served, unauthorised = server.requests, server.unauthorised
    out = capsys.readouterr()
    assert code == 0 and served > 0 and unauthorised == 0, (out.err, served, unauthorised)
    summary = (tmp_path / "run" / "summary.json").read_bytes()
    assert not _leaks(summary + out.out.encode() + out.err.encode())


@pytest.mark.parametrize(
    "argv",
    [
        ["db-inspect", "--dsn", f"postgresql://postgres:{PASSWORD}@127.0.0.1:9/db"],
        ["db-bench", "--dsn", f"host=127.0.0.1 port=9 password={PASSWORD}"],
        ["db-maintain", "--dsn", f"host=127.0.0.1 port=9 password='{PASSWORD}'"],
        ["regression", "--target", "t", "--profile", "p", "--results-db", f"postgresql://u:{PASSWORD}@127.0.0.1:9/r"],
        ["baseline", "--target", "t", "--profile", "p", "--results-db", f"postgresql://u:{PASSWORD}@127.0.0.1:9/r"],
        ["report", "bundle.json", "--results-db", f"postgresql://u:{PASSWORD}@127.0.0.1:9/r"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_dsn_with_its_password_on_the_command_line_is_refused(argv, tmp_path, capsys):
    """A password in ``--dsn`` or ``--results-db`` showed in ps and shell history. It is refused in one line naming
    where it goes instead, before any connection, and the password is in no output."""
    from include.perfpipe.cli import main

    code = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3 and "$PGPASSWORD or use ~/.pgpass" in err and len(err.strip().splitlines()) == 1, err
    assert not _leaks(err.encode()) and not (tmp_path / "out").exists()


def test_a_dsn_from_the_environment_may_carry_its_password(monkeypatch):
    """The environment is not argv: ``$PERFPIPE_DB_URL`` with a password is the results store's DSN as given."""
    from include.perfpipe.cli import build_parser

    dsn = f"postgresql://u:{PASSWORD}@127.0.0.1:9/r"
    monkeypatch.setenv("PERFPIPE_DB_URL", dsn)
    args = build_parser().parse_args(["baseline", "--target", "t", "--profile", "p"])
    assert args.results_db == dsn
