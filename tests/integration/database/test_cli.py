"""The db-inspect, db-bench and db-maintain subcommands end to end (db-bench validates through GX)."""

from __future__ import annotations

import json

import pytest

from include.perfpipe.cli import main
from tests.busy_machine import verdict_unless_busy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(server):
    setup = "CREATE TABLE w (k int PRIMARY KEY, v int);\nINSERT INTO w SELECT g, g FROM generate_series(1, 100) g;\n"
    with server.scratch("cli", setup) as dsn:
        yield dsn


def test_db_inspect_writes_findings_json(db, tmp_path):
    code = main(
        ["db-inspect", "--dsn", db, "--out", str(tmp_path), "--config", _config(tmp_path), "--fail-on", "warning"]
    )
    document = json.loads((tmp_path / "findings.json").read_text())
    assert code == 1  # the lowered xid threshold yields warnings
    assert {f["object"] for f in document["findings"] if f["check"] == "xid_wraparound"} >= {"public.w"}
    assert document["counts"]["warning"] >= 1 and document["tables"][0]["table"] == "w"
    assert set(document["findings"][0]) == {"check", "severity", "object", "evidence", "recommendation", "sql"}


def _config(tmp_path) -> str:
    path = tmp_path / "db.yaml"
    path.write_text("database:\n  xid_age_warning: 1\n")
    return str(path)


@pytest.mark.parametrize(
    "command, written",
    [("db-inspect", "findings.json"), ("db-bench", "summary.json"), ("db-maintain", "maintenance.json")],
)
def test_unreachable_database_is_exit_3(command, written, tmp_path):
    code = main([command, "--dsn", "postgresql://postgres@127.0.0.1:1/none", "--out", str(tmp_path)])
    assert code == 3 and json.loads((tmp_path / written).read_text())["verdict"] == "error"


def test_bad_threshold_is_exit_3_naming_it(db, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("database:\n  cache_hit_min_pct: lots\n")
    assert main(["db-inspect", "--dsn", db, "--out", str(tmp_path), "--config", str(bad)]) == 3
    assert "cache_hit_min_pct" in capsys.readouterr().err


def test_db_maintain_vacuums_and_only_plans(db, tmp_path):
    assert main(["db-maintain", "--dsn", db, "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "maintenance.json").read_text())
    assert [(r["table"], r["status"]) for r in document["vacuum"]] == [("public.w", "done")]


@pytest.mark.parametrize("server", ["pg15"], indirect=True)  # one end-to-end GX run is enough
def test_db_bench_writes_the_loadtest_summary_shape(db, tmp_path, monkeypatch):
    monkeypatch.setenv("PERFPIPE_CONFIG_DIRS", str(tmp_path))
    queries = tmp_path / "queries.yaml"
    queries.write_text("queries:\n  - {name: by_key, sql: 'SELECT v FROM w WHERE k = 2', weight: 2}\n")
    code = main(
        [
            "db-bench",
            "--dsn",
            db,
            "--out",
            str(tmp_path),
            "--connections",
            "2",
            "--duration",
            "1s",
            "--queries",
            str(queries),
            "--query",
            "SELECT v FROM w WHERE k = 1",
        ]
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    passed = verdict_unless_busy(summary["verdict"], summary["validation"]["reason"], "pass")
    assert code == (0 if passed else 2) and summary["validation"]["results"], summary["validation"]
    assert all(check["success"] for check in summary["validation"]["results"]), summary["validation"]["results"]
    assert summary["classes"]["db"]["count"] > 0 and summary["connections"] == 2
    assert {"by_key", "select_w"} <= set(summary["endpoints"]) and (tmp_path / "timeseries.csv").exists()
