"""Airflow 3 plugin: a "Performance reports" page in the UI's navigation, served by the API server.

``fastapi_apps`` mounts the page's app at ``/perfpipe`` behind Airflow's own authentication (the
session cookie or a bearer token, the same as the UI) and its per-DAG authorization: a user sees, lists and
opens the runs of the DAGs whose runs the auth manager lets them read, as in the UI and the REST API (roles in
FAB, Keycloak's policies...); ``external_views`` adds the nav entry (an iframe
at ``/plugin/perfpipe-reports``) and a "Performance report" tab on every DAG run's page, whose
``{DAG_ID}`` and ``{RUN_ID}`` the UI fills in.
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import AccessView, DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_view
from airflow.plugins_manager import AirflowPlugin
from perfpipe_reports.app import Readable, create_app
from perfpipe_reports.runs import reports_location, results_dsn

URL_PREFIX = "/perfpipe"


def readable_dags(user: GetUserDep) -> Readable:
    """The request's ``Readable``: the auth manager's check of reading a DAG's runs, as the REST API's DAG run
    routes make it (``requires_access_dag("GET", DagAccessEntity.RUN)``)."""
    manager = get_auth_manager()

    def readable(dag_ids: Iterable[str]) -> set[str]:
        return {
            dag_id
            for dag_id in dag_ids
            if manager.is_authorized_dag(
                method="GET", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
            )
        }

    return readable


reports_app = create_app(
    reports_location(), dsn=results_dsn, auth=requires_access_view(AccessView.WEBSITE), readable=readable_dags
)


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
