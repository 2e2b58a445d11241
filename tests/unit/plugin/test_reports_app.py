"""The reports page's FastAPI app in-process: listing, escaping, file serving and its auth hook."""

import json

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from perfpipe_reports.app import create_app
from perfpipe_reports.runs import run_reports
from perfpipe_reports.storage import ReportsTree

from tests.unit.reporting.synthetic import HOSTILE


def _write_run(base, dag_id, run, verdict="pass", target="demo", regressions=0):
    folder = base / dag_id / run
    folder.mkdir(parents=True)
    (folder / "report.html").write_text(f"<html>report {run}</html>")
    (folder / "summary.json").write_text(
        json.dumps(
            {
                "run": {"dag_id": dag_id, "run_id": run, "profile": "smoke", "target": target},
                "verdict": {"verdict": verdict, "reason": "why", "regressions": regressions},
                "totals": {"rps": 12.5, "p95_ms": 40.0, "error_rate": 0.01},
            }
        )
    )
    return folder


@pytest.fixture()
def reports(tmp_path):
    _write_run(tmp_path, "perf_smoke", "run_a", "pass")
    _write_run(tmp_path, "perf_load", "run_b", "fail", target=HOSTILE)
    return tmp_path


def test_page_lists_runs_from_disk_without_a_store(reports):
    client = TestClient(create_app(reports, dsn=lambda: None))
    page = client.get("/")
    assert page.status_code == 200
    assert '<a href="reports/perf_smoke/run_a/report.html">' in page.text  # same frame: no target
    assert "target=" not in page.text
    assert "v-fail" in page.text and "No results store configured" in page.text
    assert {r["run_id"] for r in client.get("/api/runs").json()["runs"]} == {"run_a", "run_b"}


def test_hostile_names_are_escaped(reports):
    page = TestClient(create_app(reports, dsn=lambda: None)).get("/")
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text


def test_report_files_are_served_and_traversal_refused(reports, tmp_path):
    (tmp_path.parent / "secret.txt").write_text("secret")
    client = TestClient(create_app(reports, dsn=lambda: None))
    assert client.get("/reports/perf_smoke/run_a/report.html").text == "<html>report run_a</html>"
    for path in (
        "/reports/perf_smoke/run_a/..%2F..%2F..%2Fsecret.txt",
        "/reports/perf_smoke/run_a/missing.html",
        "/reports/perf_smoke/run_b/report.html",
    ):
        assert client.get(path).status_code == 404


def test_unreachable_store_falls_back_to_disk(reports):
    client = TestClient(create_app(reports, dsn=lambda: "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"))
    body = client.get("/api/runs").json()
    assert "unavailable" in body["notice"] and len(body["runs"]) == 2


def test_every_route_goes_through_the_auth_dependency(reports):
    def deny():
        raise HTTPException(status_code=401, detail="Not authenticated")

    client = TestClient(create_app(reports, dsn=lambda: None, auth=deny))
    for path in ("/", "/api/runs", "/reports/perf_smoke/run_a/report.html"):
        assert client.get(path).status_code == 401


def test_a_report_url_maps_to_its_folder_only_inside_the_reports_tree(tmp_path):
    inside = (tmp_path / "perf_smoke" / "run_a" / "report.html").as_uri()
    assert ReportsTree(tmp_path).folder_of(inside) == "perf_smoke/run_a"
    assert ReportsTree(tmp_path).folder_of("file:///elsewhere/d/r/report.html") is None
    assert ReportsTree(tmp_path).folder_of("s3://bucket/perf_smoke/run_a/report.html") is None
    shared = ReportsTree("s3://aws_reports@bucket/perfpipe")
    assert shared.folder_of("s3://aws_reports@bucket/perfpipe/perf_smoke/run_a/report.html") == "perf_smoke/run_a"
    assert shared.folder_of("s3://bucket/perfpipe/perf_smoke/run_a/report.html") == "perf_smoke/run_a"
    assert shared.folder_of("s3://bucket/other/perf_smoke/run_a/report.html") is None
    assert shared.folder_of("s3://bucket/perfpipe/../x/y/report.html") is None


def test_a_regression_shows_next_to_the_verdict(tmp_path):
    _write_run(tmp_path, "perf_load", "nightly", "pass", regressions=2)
    page = TestClient(create_app(tmp_path, dsn=lambda: None)).get("/")
    assert "· 2 regressions vs baseline" in page.text


def test_a_dag_run_tab_redirects_to_its_report(reports):
    client = TestClient(create_app(reports, dsn=lambda: None))
    moved = client.get("/runs/perf_smoke/run_a", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == "../../reports/perf_smoke/run_a/report.html"
    assert client.get("/runs/perf_smoke/run_a").text == "<html>report run_a</html>"


def test_a_release_gate_run_lists_its_profiles_and_a_running_one_says_so(tmp_path):
    for profile in ("smoke", "load"):
        _write_run(tmp_path, "perf_release_gate", f"manual__1.{profile}")
    client = TestClient(create_app(tmp_path, dsn=lambda: None))
    page = client.get("/runs/perf_release_gate/manual__1").text
    assert 'href="../../reports/perf_release_gate/manual__1.smoke/report.html"' in page
    assert "manual__1.load" in page and "manual__10" not in page
    assert "No report for this run yet" in client.get("/runs/perf_smoke/not_finished").text
    assert run_reports(ReportsTree(tmp_path / "perf_release_gate"), "..", "manual__1") == []  # outside the tree


def test_a_user_sees_and_opens_only_the_runs_of_dags_they_may_read(reports):
    (reports / "perf_load" / "run_b" / "bundle.json").write_text("{}")
    asked: list[set] = []

    def smoke_only(dag_ids):
        asked.append(set(dag_ids))
        return set(dag_ids) & {"perf_smoke"}

    client = TestClient(create_app(reports, dsn=lambda: None, readable=lambda: smoke_only))
    assert [r["run_id"] for r in client.get("/api/runs").json()["runs"]] == ["run_a"]
    page = client.get("/").text
    assert "run_a" in page and "run_b" not in page and "perf_load" not in page
    assert asked[0] == {"perf_smoke", "perf_load"}  # one check for all the listed DAGs
    files = ("run_b/report.html", "run_b/bundle.json", "run_b/summary.json", "no_such_run/report.html")
    for path in ("/runs/perf_load/run_b", *(f"/reports/perf_load/{file}" for file in files)):
        refused = client.get(path, follow_redirects=False)
        assert refused.status_code == 403 and "perf_load" in refused.json()["detail"], path
    assert client.get("/runs/perf_smoke/run_a").text == "<html>report run_a</html>"
