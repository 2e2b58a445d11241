"""The reports page end to end: Airflow's real auth (JWT cookie), the results store, and a report in headless Chromium.

Chromium stays on loopback (every other host resolves to nothing, no proxy) and gets a fresh profile.
The screenshot goes to the test's tmp dir and to reports/screenshots/ for humans.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import httpx
import pytest

from tests.conftest import ROOT, free_port
from tests.integration.plugin.cdp import Page
from tests.unit.reporting import synthetic

pytestmark = [pytest.mark.integration, pytest.mark.browser]
FILES = ("report.html", "bundle.json", "summary.json")  # of a run folder
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary, installed with apt-get when missing (skipped only if apt itself fails)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = subprocess.run(["apt-get", "install", "-y", "chromium"], env=env, capture_output=True, text=True)
    if install.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        install = subprocess.run(["apt-get", "install", "-y", "chromium"], env=env, capture_output=True, text=True)
    found = shutil.which("chromium")
    if not found:
        pytest.skip(f"chromium is missing and `apt-get install -y chromium` failed: {install.stderr[-500:]}")
    return found


@pytest.fixture(scope="module")
def viewer_token() -> str:
    """A JWT for a viewer, from Airflow's own (simple) auth manager, after `airflow db migrate`."""
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return create_auth_manager().generate_jwt(SimpleAuthManagerUser(username="perf-viewer", role="viewer"))


@pytest.fixture(scope="module")
def results_dsn(scratch_db):
    return scratch_db("perfstore_plugin")


@pytest.fixture(scope="module")
def published(tmp_path_factory, results_dsn):
    """One rendered, recorded run (failing, with hostile text), as publish_run leaves it."""
    from include.perfpipe.regression.baseline import find_baseline, shape_of
    from include.perfpipe.reporting import render_report
    from include.perfpipe.store import ResultsStore
    from include.perfpipe.validation.verdict import run_verdict

    reports = tmp_path_factory.mktemp("reports")
    bundle = synthetic.bundle(run_id="manual__browser_check")
    store = ResultsStore(results_dsn)
    store.migrate()
    for i, slow in enumerate((0.8, 0.9, 1.0)):  # earlier passing runs: a baseline and a trend
        old = synthetic.bundle(run_id=f"scheduled__{i}", fail=False)
        old["loadtest"] = synthetic.load_result(seed=i, slow=slow)
        old["run"]["started_at"] = f"2026-11-2{i}T11:00:00+00:00"
        store.save_bundle(old, "pass", "all thresholds met", shape=shape_of(old["loadtest"]))
    bundle.update(find_baseline(store, bundle["run"], shape_of(bundle["loadtest"])))
    out_dir = reports / "perf_load" / "manual__browser_check"
    paths = render_report(bundle, out_dir)
    store.save_bundle(
        bundle, *run_verdict(bundle), shape=shape_of(bundle["loadtest"]), report_url=paths["html"].as_uri()
    )
    return reports, bundle


@pytest.fixture(scope="module")
def server(published, results_dsn, viewer_token):
    """The plugin's app, behind Airflow's auth dependency, served by uvicorn on loopback."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import requires_access_view
    from perfpipe_reports.app import create_app

    app = create_app(published[0], dsn=lambda: results_dsn, auth=requires_access_view(AccessView.WEBSITE))
    with _served(app) as url:
        yield url


@contextlib.contextmanager
def _served(app):
    """``app`` served by uvicorn on a free loopback port until the block ends; yields its URL."""
    import uvicorn

    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(10)


def test_page_needs_airflow_login_and_lists_store_runs(server, viewer_token, published):
    assert httpx.get(f"{server}/").status_code == 401
    assert httpx.get(f"{server}/", cookies={"_token": "forged"}).status_code == 403
    page = httpx.get(f"{server}/", cookies={"_token": viewer_token})
    assert page.status_code == 200
    assert "manual__browser_check" in page.text and "v-fail" in page.text
    assert 'href="reports/perf_load/manual__browser_check/report.html"' in page.text
    runs = httpx.get(f"{server}/api/runs", headers={"Authorization": f"Bearer {viewer_token}"}).json()
    assert runs["notice"] is None and [r["run_id"] for r in runs["runs"]][0] == "manual__browser_check"


async def _open(chromium: str, profile: Path):
    port_file = profile / "DevToolsActivePort"
    proc = await asyncio.create_subprocess_exec(
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
    )
    for _ in range(200):
        if port_file.exists() and port_file.read_text().strip():
            break
        await asyncio.sleep(0.1)
    port = port_file.read_text().split()[0]
    session = aiohttp.ClientSession()
    targets = await (await session.get(f"http://127.0.0.1:{port}/json/list")).json()
    target = next(t for t in targets if t["type"] == "page")
    page = Page(await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0))
    return proc, session, page


async def _check_report(chromium: str, profile: Path, url: str, token: str, shot: Path) -> dict:
    proc, session, page = await _open(chromium, profile)
    try:
        for domain in ("Runtime", "Log", "Page", "Network"):
            await page.send(f"{domain}.enable")
        await page.send("Emulation.setDeviceMetricsOverride", width=1300, height=900, deviceScaleFactor=1, mobile=False)
        await page.send("Network.setCookie", name="_token", value=token, domain="127.0.0.1", path="/")
        await page.send("Page.navigate", url=url)
        charts = await page.wait_for(
            "document.querySelectorAll('.plotly .main-svg').length >= 6 && "
            "document.querySelectorAll('.plotly .main-svg').length"
        )
        facts = {
            "charts": charts,
            "plots": await page.evaluate("document.querySelectorAll('.js-plotly-plot').length"),
            "verdict": await page.evaluate("document.getElementById('verdict').innerText"),
            "scripts": await page.evaluate("document.scripts.length"),
            "hostile_script": await page.evaluate(
                "[...document.scripts].some(s => s.text.includes(\"alert('pwned')\"))"
            ),
            "title": await page.evaluate("document.title"),
        }
        await page.screenshot(shot)
        facts["errors"] = page.js_errors()
        return facts
    finally:
        await page.close()
        await session.close()
        proc.terminate()
        await proc.wait()


def test_report_renders_in_headless_chromium(server, viewer_token, chromium, tmp_path):
    url = f"{server}/reports/perf_load/manual__browser_check/report.html"
    shot = tmp_path / "report.png"
    facts = asyncio.run(_check_report(chromium, tmp_path / "profile", url, viewer_token, shot))
    keep = ROOT / "reports" / "screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, keep / "report.png")
    assert facts["errors"] == []
    assert facts["plots"] == 3 and facts["charts"] >= 6  # throughput, latency, trend: each draws its SVG layers
    assert facts["verdict"].startswith("FAIL") and synthetic.HOSTILE in facts["verdict"]  # shown as text
    assert facts["scripts"] == 1 + facts["plots"]  # plotly.js once, one newPlot per chart, nothing else
    assert facts["hostile_script"] is False
    assert shot.stat().st_size > 50_000


def test_airflow_api_server_serves_the_page_behind_its_login(viewer_token):
    """The whole Airflow API app, plugins loaded from plugins/: the page is mounted and guarded."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    assert client.get("/perfpipe/").status_code == 401
    page = client.get("/perfpipe/", cookies={"_token": viewer_token})
    assert page.status_code == 200 and "Performance reports" in page.text
    views = client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {viewer_token}"})
    names = [v["name"] for p in views.json()["plugins"] for v in p["external_views"]]
    assert "Performance reports" in names


@pytest.fixture(scope="module")
def one_dag_reader(published, results_dsn):
    """The plugin's app as Airflow mounts it (its auth and its per-DAG check), with Airflow's auth manager
    limiting ``reader`` (a viewer) to perf_smoke (``one_dag_auth.py``), beside the published perf_load runs one
    perf_smoke run; yields the app's URL, the reader's JWT and that run's id."""
    from airflow.api_fastapi.app import create_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import requires_access_view
    from perfpipe_reports.app import create_app
    from perfpipe_reports_plugin import readable_dags

    from include.perfpipe.regression.baseline import shape_of
    from include.perfpipe.reporting import render_report
    from include.perfpipe.store import ResultsStore
    from include.perfpipe.validation.verdict import run_verdict
    from tests.integration.plugin.one_dag_auth import READERS_ENV

    reports, run_id = published[0], "manual__readable_check"
    refused = reports / "perf_load" / "manual__browser_check" / "bundle.json"  # as publish_run leaves it
    refused.write_text(json.dumps(published[1], default=str))
    smoke = synthetic.bundle(run_id=run_id, fail=False)
    smoke["run"]["dag_id"] = "perf_smoke"
    paths = render_report(smoke, reports / "perf_smoke" / run_id)
    ResultsStore(results_dsn).save_bundle(
        smoke, *run_verdict(smoke), shape=shape_of(smoke.get("loadtest")), report_url=paths["html"].as_uri()
    )
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AIRFLOW__CORE__AUTH_MANAGER", "tests.integration.plugin.one_dag_auth.OneDagAuthManager")
            env.setenv(READERS_ENV, json.dumps({"reader": ["perf_smoke"]}))
            purge_cached_app()
            token = create_auth_manager().generate_jwt(SimpleAuthManagerUser(username="reader", role="viewer"))
            app = create_app(reports, lambda: results_dsn, requires_access_view(AccessView.WEBSITE), readable_dags)
            with _served(app) as url:
                yield url, token, run_id
    finally:
        purge_cached_app()
        create_auth_manager()  # the configured one again, for the tests after this module


def test_a_user_who_may_read_one_dag_sees_and_opens_only_its_runs(one_dag_reader, viewer_token):
    url, token, readable = one_dag_reader
    forbidden = f"{url}/reports/perf_load/manual__browser_check"
    assert httpx.get(f"{forbidden}/bundle.json", cookies={"_token": viewer_token}).status_code == 200  # it is there
    as_reader = {"_token": token}
    assert {r["dag_id"] for r in httpx.get(f"{url}/api/runs", cookies=as_reader).json()["runs"]} == {"perf_smoke"}
    refused = [f"{url}/runs/perf_load/manual__browser_check", *(f"{forbidden}/{f}" for f in FILES)]
    assert [httpx.get(page, cookies=as_reader).status_code for page in refused] == [403] * 4

    from selenium.webdriver.common.by import By

    from tests.integration.plugin.conftest import selenium_chromium

    shots = ROOT / "reports" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    driver = selenium_chromium()
    try:
        driver.get(f"{url}/api/runs")  # on the origin, to set its cookie
        driver.add_cookie({"name": "_token", "value": token, "path": "/"})
        driver.get(f"{url}/")
        listed = driver.find_element(By.ID, "runs").text
        driver.save_screenshot(str(shots / "one-dag-reader-list.png"))
        driver.get(f"{forbidden}/bundle.json")
        bundle = driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(str(shots / "one-dag-reader-refused-bundle.png"))
        driver.get(f"{url}/runs/perf_load/manual__browser_check")
        report = driver.find_element(By.TAG_NAME, "body").text
        driver.get(f"{url}/runs/perf_smoke/{readable}")
        own = driver.find_element(By.ID, "verdict").text
        driver.save_screenshot(str(shots / "one-dag-reader-own-report.png"))
    finally:
        driver.quit()
    assert readable in listed and "manual__browser_check" not in listed and "perf_load" not in listed
    assert "you may not read the runs of DAG 'perf_load'" in bundle and "you may not read" in report
    assert own.startswith("PASS")
