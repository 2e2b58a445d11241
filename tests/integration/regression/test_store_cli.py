"""The store-backed subcommands (`regression`, `baseline`) against runs saved in PostgreSQL 15."""

import json

import pytest

from include.perfpipe.cli import main
from tests.integration.regression.conftest import DAG, PROFILE, SLOW_FROM, TARGET

pytestmark = pytest.mark.integration


def _args(store_dsn, command, *extra):
    return [command, "--target", TARGET, "--profile", PROFILE, "--results-db", store_dsn, *extra]


def test_baseline_mark_and_show(store_dsn, capsys):
    assert main(_args(store_dsn, "baseline", "--mark", DAG, "night02")) == 0
    assert f"baseline (marked): {DAG}/night02" in capsys.readouterr().out


def test_regression_of_the_latest_run_exits_1_with_the_change_point(store_dsn, tmp_path, capsys):
    main(_args(store_dsn, "baseline", "--mark", DAG, "night02"))
    out = tmp_path / "section.json"
    code = main(_args(store_dsn, "regression", "--out", str(out)))
    printed = capsys.readouterr().out
    assert code == 1
    assert f"run {DAG}/night11; baseline {DAG}/night02" in printed and "REGRESSION: " in printed
    section = json.loads(out.read_text())
    assert section["gate"]["regressed"] is True
    [point] = [c for c in section["change_points"] if c["metric"] == "p95_ms" and c["class_name"] == "api"]
    assert abs(point["index"] - SLOW_FROM) <= 1 and point["direction"] == "regression"


def test_regression_of_an_early_run_against_a_fast_baseline_exits_0(store_dsn, capsys):
    main(_args(store_dsn, "baseline", "--mark", DAG, "night02"))
    assert main(_args(store_dsn, "regression", "--run", DAG, "night04")) == 0
    assert "ok: no significant regression" in capsys.readouterr().out


def test_unknown_run_and_missing_store_exit_3(store_dsn, capsys, monkeypatch):
    assert main(_args(store_dsn, "baseline", "--mark", DAG, "nope")) == 3
    assert "no run with dag_id" in capsys.readouterr().err
    monkeypatch.delenv("PERFPIPE_DB_URL", raising=False)
    assert main(["regression", "--target", TARGET, "--profile", PROFILE]) == 3
    assert "--results-db is required" in capsys.readouterr().err
