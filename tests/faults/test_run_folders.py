"""Fault matrix row 16: a run id of ``..`` and two ids that differ only in ``:`` and ``+`` land in separate
folders inside the reports folder; the run tab and the page find each one's own report, served with
nosniff and a restrictive Content-Security-Policy."""

import json

import pytest
from fastapi.testclient import TestClient

from include.perfpipe.errors import ConfigError
from include.perfpipe.runs import folder_id, folder_name, run_dir
from tests.unit.plugin.conftest import PLUGINS  # noqa: F401 - puts plugins/ on sys.path, as Airflow does

IDS = ["..", ".", "a:b", "a+b", "a_b", "a~3Ab", "../../etc", "manual__2026-11-27T11:00:00+00:00", ".hidden", "ü/x"]


def test_folder_names_are_one_to_one_and_never_leave_the_reports_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFPIPE_REPORTS_DIR", str(tmp_path))
    folders = [run_dir("perf_smoke", run_id) for run_id in IDS]
    assert len(set(folders)) == len(IDS)  # one-to-one, also against the escape character itself
    for folder in folders:
        assert folder.resolve().parent == (tmp_path / "perf_smoke").resolve() and folder.is_dir()
    assert run_dir("..", "x").resolve().parent.parent == tmp_path.resolve()  # a dag id too
    assert folder_name("a:b") != folder_name("a+b") and folder_name("a.b") == "a.b"
    assert [folder_id(folder.name) for folder in folders] == IDS  # and back: the reports page checks that DAG
    with pytest.raises(ConfigError, match="run folder"):
        folder_name("")


def test_each_run_tab_opens_its_own_report_with_safe_headers(tmp_path):
    from perfpipe_reports.app import create_app

    for run_id in ("..", "a:b", "a+b"):
        folder = tmp_path / "perf_smoke" / folder_name(run_id)
        folder.mkdir(parents=True)
        (folder / "report.html").write_text(f"<html>report {run_id}</html>")
        (folder / "summary.json").write_text(json.dumps({"run": {"dag_id": "perf_smoke", "run_id": run_id}}))
    client = TestClient(create_app(tmp_path, dsn=lambda: None))
    for run_id in ("a:b", "a+b"):
        tab = client.get(f"/runs/perf_smoke/{run_id}", follow_redirects=True)
        assert tab.status_code == 200 and tab.text == f"<html>report {run_id}</html>"
        assert tab.headers["x-content-type-options"] == "nosniff"
        policy = tab.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "sandbox allow-scripts" in policy
    tab = client.get("/runs/perf_smoke/%2E%2E", follow_redirects=True)  # run id ".."
    assert tab.text == "<html>report ..</html>"
    assert client.get("/reports/perf_smoke/%2E%2E/report.html").status_code == 404
