"""The plugin as Airflow loads it: a FastAPI app at /perfpipe and a nav entry pointing at it."""


def test_airflow_loads_the_app_and_the_nav_entry():
    from airflow import plugins_manager

    apps, _ = plugins_manager.get_fastapi_plugins()
    ours = [a for a in apps if a["url_prefix"] == "/perfpipe"]
    assert len(ours) == 1
    assert plugins_manager.get_import_errors() == {}
    [info] = [p for p in plugins_manager.get_plugin_info() if p["name"] == "perfpipe_reports"]
    view = next(v for v in info["external_views"] if v["name"] == "Performance reports")
    assert view["href"] == "perfpipe/" and view["destination"] == "nav"  # relative: resolves under the UI base URL


def test_app_is_protected_by_airflow_auth():
    import perfpipe_reports_plugin
    from fastapi.testclient import TestClient

    response = TestClient(perfpipe_reports_plugin.reports_app).get("/api/runs")
    assert response.status_code == 401  # no session cookie, no bearer token


def test_every_dag_run_gets_a_performance_report_tab():
    from airflow import plugins_manager

    [info] = [p for p in plugins_manager.get_plugin_info() if p["name"] == "perfpipe_reports"]
    view = next(v for v in info["external_views"] if v["name"] == "Performance report")
    assert view["destination"] == "dag_run"
    assert view["href"] == "perfpipe/runs/{DAG_ID}/{RUN_ID}"  # the UI substitutes the run's ids
