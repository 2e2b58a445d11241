"""Airflow 3 plugin: a "Performance reports" page in the UI's navigation, served by the API server.

``fastapi_apps`` mounts the page's app at ``/perfpipe`` behind Airflow's own authentication (the
session cookie or a bearer token, the same as the UI); ``external_views`` adds the nav entry (an iframe
at ``/plugin/perfpipe-reports``) and a "Performance report" tab on every DAG run's page, whose
``{DAG_ID}`` and ``{RUN_ID}`` the UI fills in.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import requires_access_view
from airflow.plugins_manager import AirflowPlugin
from perfpipe_reports.app import create_app
from perfpipe_reports.runs import reports_location, results_dsn

URL_PREFIX = "/perfpipe"

reports_app = create_app(reports_location(), dsn=results_dsn, auth=requires_access_view(AccessView.WEBSITE))


class PerfpipeReportsPlugin(AirflowPlugin):
    name = "perfpipe_reports"
    fastapi_apps = [{"app": reports_app, "url_prefix": URL_PREFIX, "name": "perfpipe reports"}]
    external_views = [
        {
            "name": "Performance reports",
            "href": "perfpipe/",
            "url_route": "perfpipe-reports",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Performance report",
            "href": "perfpipe/runs/{DAG_ID}/{RUN_ID}",
            "url_route": "perfpipe-run-report",
            "destination": "dag_run",
        },
    ]
