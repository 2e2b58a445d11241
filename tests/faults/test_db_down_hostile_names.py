"""Fault matrix rows 5 and 13, from one perf_smoke run (``dag.test()``):

- row 5: the target database goes down during the run (a proxy in front of it is cut once the load
  starts): the DB stage is retried with backoff, then fails naming the connection; the report is published.
- row 13: endpoint names, a response body and the version Param carry HTML, script and template syntax;
  the report files, the GX Data Docs and the reports page show them escaped, never as markup.
"""

import json
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import markupsafe
import pytest
import yaml

from tests.conftest import ROOT
from tests.faults.conftest import dag_log, run_smoke, started_tasks
from tests.faults.proxy import CuttableProxy
from tests.unit.loadtest.server import HOSTILE_BODY, LoopbackServer

pytestmark = pytest.mark.integration
NAMES = ['<script>alert("endpoint")</script>', "\"><img src=x onerror=alert('name')> {{ 7 * 7 }}"]
VERSION = "<svg onload=alert('version')>"


@pytest.fixture(scope="module")
def faulty_run(airflow_env, dag_runner, demo_db_url, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("hostile") / "hostile.yaml"
    endpoints = [{"name": NAMES[0], "path": "/ok", "class": "health"}, {"name": NAMES[1], "path": "/hostile"}]
    scenario.write_text(yaml.safe_dump({"endpoints": endpoints}))
    db = urlsplit(demo_db_url)
    with LoopbackServer() as target, CuttableProxy((db.hostname, db.port)) as proxy:
        user = f"{db.username}@" if db.username else ""
        proxied = db._replace(netloc=f"{user}127.0.0.1:{proxy.port}").geturl()
        done = threading.Event()

        def cut_once_the_load_starts() -> None:
            while not done.wait(0.05):
                if target.requests > 3:  # preflight's probe is one
                    proxy.cut()
                    return

        watcher = threading.Thread(target=cut_once_the_load_starts, daemon=True)
        watcher.start()
        try:
            outcome, run_dir = run_smoke(
                dag_runner,
                target.url(""),
                {"duration": "3s", "scenario": str(scenario), "version": VERSION},
                AIRFLOW_CONN_PERF_TARGET_DB=proxied,
            )
        finally:
            done.set()
        assert proxy.cut_event.is_set(), "the load never reached the target"
    return {"outcome": outcome, "run_dir": run_dir, "log": dag_log(airflow_env), "env": airflow_env}


def test_target_db_down_in_the_db_stage_is_retried_then_fails_clearly_and_the_report_is_published(faulty_run):
    started = started_tasks(faulty_run["log"])
    assert started.count("db_snapshot") == 1 and started.count("load_test") == 1  # before the cut
    assert started.count("db_stage") == 3, started  # the first try and two retries
    assert faulty_run["outcome"]["state"] == "failed"
    summary = json.loads((faulty_run["run_dir"] / "summary.json").read_text())
    assert summary["verdict"]["verdict"] == "error", summary["verdict"]
    reason = summary["verdict"]["reason"]
    assert "db_stage" in reason and "'perf_target_db'" in reason and "unreachable" in reason, reason


def _texts(folder: Path, pattern: str) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text(errors="replace") for p in folder.rglob(pattern) if p.is_file()}


def _raw_markup(texts: dict[str, str]) -> dict[str, list[str]]:
    """The hostile strings found verbatim (outside Markdown code spans, which render as text)."""
    hostile = [*NAMES, VERSION, HOSTILE_BODY.decode()]
    texts = {name: re.sub(r"`[^`\n]*`", "", text) if name.endswith(".md") else text for name, text in texts.items()}
    return {name: found for name, text in texts.items() if (found := [h for h in hostile if h in text])}


def test_hostile_names_and_bodies_are_escaped_in_the_report(faulty_run):
    report = faulty_run["run_dir"] / "report.html"
    page = report.read_text()
    assert all(str(markupsafe.escape(name)) in page for name in NAMES)  # shown, as text
    files = _texts(faulty_run["run_dir"], "*.html") | _texts(faulty_run["run_dir"], "*.md")
    assert not _raw_markup(files)


def test_hostile_names_are_escaped_in_the_data_docs(faulty_run):
    """The Data Docs show suites, windows and metrics (endpoint names do not reach them): no raw markup."""
    docs = _texts(faulty_run["run_dir"] / "gx", "*.html")
    assert [name for name in docs if "/validations/" in name], "no validation pages in the Data Docs"
    assert not _raw_markup(docs)


def test_hostile_names_are_escaped_on_the_reports_page(faulty_run):
    import sys

    from fastapi.testclient import TestClient

    sys.path.insert(0, str(ROOT / "plugins"))  # as Airflow does
    from perfpipe_reports.app import create_app

    env = faulty_run["env"]
    app = create_app(Path(env["PERFPIPE_REPORTS_DIR"]), dsn=lambda: env["AIRFLOW_CONN_PERF_RESULTS_DB"])
    page = TestClient(app).get("/")
    assert page.status_code == 200 and str(markupsafe.escape(VERSION)) in page.text
    assert not _raw_markup({"index": page.text})
