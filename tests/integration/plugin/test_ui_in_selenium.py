"""The Airflow UI as a user meets it, in headless Chromium driven by Selenium, against one `airflow standalone`.

The form triggers with its defaults (but a 5 s duration), the run's "Performance report" tab shows the report,
Browse -> Performance reports opens a report inside the UI, a bad duration is refused naming the field, and a run
with a nonexistent scenario shows the preflight error in its report. Screenshots: reports/screenshots/ui-*.png.
"""

from __future__ import annotations

import time
from urllib.parse import unquote

import pytest

from tests.busy_machine import dag_state, verdict_unless_busy
from tests.conftest import ROOT
from tests.integration.plugin.conftest import selenium_chromium
from tests.integration.standalone import airflow_standalone, api, wait_for_dag

pytestmark = [pytest.mark.integration, pytest.mark.browser]
SHOTS = ROOT / "reports" / "screenshots"
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def airflow_ui(tmp_path_factory, scratch_db, demo_db_url, demo_service):
    connections = {
        "perf_target_http": demo_service,
        "perf_target_db": demo_db_url,
        "perf_results_db": scratch_db("perfpipe_ui_results"),
    }
    with airflow_standalone(tmp_path_factory.mktemp("airflow-ui"), connections) as server:
        for dag_id in ("perf_smoke", "perf_load"):
            wait_for_dag(server, dag_id)
        yield server


@pytest.fixture(scope="module")
def browser(airflow_ui):
    """Headless Chromium on loopback only, logged in with the admin's JWT cookie (what the login page sets)."""
    driver = selenium_chromium()
    token = api(airflow_ui).headers["Authorization"].split()[1]
    driver.get(f"{airflow_ui['url']}/api/v2/monitor/health")
    driver.add_cookie({"name": "_token", "value": token, "path": "/"})
    print(f"\nscreenshots: {SHOTS}/ui-*.png")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def failed_run(airflow_ui):
    """A perf_load run with a scenario file that does not exist, triggered over REST (it runs beside smoke)."""
    client = api(airflow_ui)
    body = {"logical_date": None, "conf": {"scenario": "/nonexistent.yaml", "db_stage": False}}
    return client.post("/dags/perf_load/dagRuns", json=body).json()["dag_run_id"]


@pytest.fixture(scope="module")
def smoke_run() -> dict:
    """The form-triggered smoke run (``run_id``, ``verdict``), for the tests that open its report: kept in the module,
    not pytest's cache, which `-p no:cacheprovider` turns off and which outlives the session."""
    return {}


def _wait(check, timeout_s: float = 120, what: str = "the page"):
    """``check()``'s first truthy value. The deadline is generous and costs nothing when the page is quick: Airflow's
    first page of a session took over 30 s to render its Trigger button under make test's 3 workers (load 13)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} did not appear within {timeout_s} s")


def _errors(driver) -> list[str]:
    """Console errors since the last call (the log is drained on read); Airflow's own sandbox warning is a warning."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"ui-{name}.png"))


def _open_trigger_form(driver, url: str, dag_id: str):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def click_trigger() -> bool:  # the page re-renders while it loads: a found button can go stale
        try:
            [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "Trigger"][0].click()
            return True
        except (IndexError, StaleElementReferenceException):
            return False

    driver.get(f"{url}/dags/{dag_id}")
    _wait(click_trigger, what="Trigger")
    return _wait(
        lambda: driver.find_elements(By.XPATH, "//*[@role='dialog']//button[normalize-space()='Trigger']"),
        what="the trigger form",
    )[0]


def _wait_for_run(airflow_ui, dag_id: str, run_id: str) -> str:
    client = api(airflow_ui)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (state := client.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]) in ("queued", "running"):
        assert time.monotonic() < deadline, f"{dag_id} still {state} after {RUN_TIMEOUT_S} s; see {airflow_ui['log']}"
        time.sleep(3)
    return state


def _publication(airflow_ui, dag_id: str, run_id: str) -> dict:
    return (
        api(airflow_ui)
        .get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/publish/xcomEntries/return_value")
        .json()["value"]
    )


def _open_report_tab(driver, url: str, dag_id: str, run_id: str):
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/dags/{dag_id}/runs/{run_id}")
    _wait(
        lambda: driver.find_elements(By.XPATH, "//a[normalize-space()='Performance report']"),
        what="the Performance report tab",
    )[0].click()
    frame = _wait(lambda: driver.find_elements(By.TAG_NAME, "iframe"), what="the report frame")[0]
    driver.switch_to.frame(frame)
    verdict = _wait(lambda: driver.find_elements(By.ID, "verdict"), what="the report's verdict")[0]
    return verdict


def test_a_bad_duration_is_refused_with_a_message_naming_the_field(airflow_ui, browser, failed_run):
    from selenium.webdriver.common.by import By

    _open_trigger_form(browser, airflow_ui["url"], "perf_smoke")
    browser.find_element(By.XPATH, "//*[@role='dialog']//button[normalize-space()='Load']").click()
    _wait(lambda: browser.find_elements(By.ID, "element_duration"), what="the Duration field")[0].send_keys(
        "ten seconds"
    )
    browser.find_element(By.XPATH, "//*[@role='dialog']//button[normalize-space()='Trigger']").click()  # re-rendered
    message = _wait(
        lambda: browser.find_elements(
            By.XPATH, "//*[@role='dialog']//*[contains(text(), 'Invalid input for param duration')]"
        ),
        what="the error message",
    )[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", message)
    _shot(browser, "bad-duration")
    assert message.is_displayed()
    assert "Invalid input for param duration: 'ten seconds'" in message.text
    assert api(airflow_ui).get("/dags/perf_smoke/dagRuns").json()["total_entries"] == 0  # nothing started


def test_the_form_triggers_with_its_defaults_and_the_run_succeeds(airflow_ui, browser, smoke_run):
    from selenium.webdriver.common.by import By

    from include.pipelines.run_form import perf_params

    trigger = _open_trigger_form(browser, airflow_ui["url"], "perf_smoke")
    _shot(browser, "trigger-form")
    assert trigger.is_enabled()  # no field counts as required and empty
    # every default but the smoke profile's own 60 s of load (142 s of this test): 5 s run the same tasks and report
    browser.find_element(By.XPATH, "//*[@role='dialog']//button[normalize-space()='Load']").click()
    _wait(lambda: browser.find_elements(By.ID, "element_duration"), what="the Duration field")[0].send_keys("5s")
    browser.find_element(By.XPATH, "//*[@role='dialog']//button[normalize-space()='Trigger']").click()  # re-rendered
    run_page = _wait(lambda: "/runs/" in browser.current_url and browser.current_url, what="the new run's page")
    run_id = unquote(run_page.rsplit("/runs/", 1)[1].split("/")[0])
    conf = api(airflow_ui).get(f"/dags/perf_smoke/dagRuns/{run_id}").json()["conf"]
    defaults = {name: param.value for name, param in perf_params("smoke").items()}
    assert conf == {**defaults, "duration": "5s"}
    state = _wait_for_run(airflow_ui, "perf_smoke", run_id)
    publication = _publication(airflow_ui, "perf_smoke", run_id)
    passed = verdict_unless_busy(publication["verdict"], publication["reason"], "pass")
    assert state == dag_state(passed), airflow_ui["log"]
    smoke_run.update(run_id=run_id, verdict=publication["verdict"].upper())


def test_the_run_page_shows_its_performance_report(airflow_ui, browser, smoke_run):
    from selenium.webdriver.common.by import By

    run_id = smoke_run.get("run_id")
    assert run_id, "the trigger test did not record its run"
    _errors(browser)
    verdict = _open_report_tab(browser, airflow_ui["url"], "perf_smoke", run_id)
    charts = _wait(
        lambda: len(browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= 4, what="the charts"
    )
    headline = verdict.text
    browser.switch_to.default_content()
    _shot(browser, "run-report-tab")
    assert charts and headline.startswith(smoke_run["verdict"])
    assert browser.current_url.endswith("/plugin/perfpipe-run-report")  # still the run's page in Airflow
    assert _errors(browser) == []


def test_the_reports_list_opens_a_report_inside_the_ui(airflow_ui, browser, smoke_run):
    from selenium.webdriver.common.by import By

    run_id = smoke_run.get("run_id")
    assert run_id, "the trigger test did not record its run"
    browser.get(airflow_ui["url"])
    _wait(lambda: browser.find_elements(By.XPATH, "//button[normalize-space()='Browse']"), what="Browse")[0].click()
    _wait(
        lambda: browser.find_elements(By.XPATH, "//*[@role='menuitem'][normalize-space()='Performance reports']"),
        what="the Performance reports entry",
    )[0].click()
    browser.switch_to.frame(_wait(lambda: browser.find_elements(By.TAG_NAME, "iframe"), what="the list frame")[0])
    row = _wait(
        lambda: [r for r in browser.find_elements(By.CSS_SELECTOR, "#runs tr") if run_id in r.text],
        what="the smoke run in the list",
    )[0]
    row.find_element(By.LINK_TEXT, "report").click()
    verdict = _wait(lambda: browser.find_elements(By.ID, "verdict"), what="the report opened from the list")[0]
    assert verdict.text.startswith(smoke_run["verdict"])
    assert browser.execute_script("return location.pathname").endswith("/report.html")
    browser.switch_to.default_content()
    _shot(browser, "list-report")
    assert "/plugin/perfpipe-reports/" in browser.current_url  # the report opened in the UI's frame


def test_a_run_with_a_nonexistent_scenario_shows_the_preflight_error_in_its_report(airflow_ui, browser, failed_run):
    assert _wait_for_run(airflow_ui, "perf_load", failed_run) == "failed"
    verdict = _open_report_tab(browser, airflow_ui["url"], "perf_load", failed_run)
    text = verdict.text
    browser.switch_to.default_content()
    _shot(browser, "failed-run-report")
    assert text.startswith("ERROR")
    assert "task preflight failed: bad input: scenario" in text and "/nonexistent.yaml" in text
