"""Airflow's simple auth manager with per-user DAG limits, as roles give them with FAB or Keycloak in production:
``$PERFPIPE_TEST_DAG_READERS`` maps a user name to the DAG ids it may see (``{"reader": ["perf_smoke"]}``);
users it does not name keep their role's access to every DAG. Set as ``[core] auth_manager`` in-process by
``test_reports_in_browser.py`` (``airflow standalone`` forces the plain simple auth manager)."""

from __future__ import annotations

import json
import os

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

READERS_ENV = "PERFPIPE_TEST_DAG_READERS"


class OneDagAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        limits = json.loads(os.environ.get(READERS_ENV, "{}"))
        if user.get_name() in limits and (details is None or details.id not in limits[user.get_name()]):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
