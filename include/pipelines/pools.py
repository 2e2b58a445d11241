"""The Airflow pools that keep two pipelines off the same target or database at once.

``perfpipe_load`` holds the load-generating tasks (``load_test`` shards, ``tune.rerun_load``);
``perfpipe_maintenance`` the tasks that change or load the target database (``db_stage``,
``db_benchmark``, ``tune.apply_indexes``, ``db_maintenance.maintain``). One slot each by default, so
two runs queue one behind the other; give ``perfpipe_load`` as many slots as the largest ``shards``
you run (the shards of one run must run together). A pool that does not exist keeps its tasks
queued forever: ``tools/devstack.py``, ``tools/cluster.py`` and ``airflow_settings.yaml`` create them,
elsewhere run ``airflow pools import`` on ``pools_json()`` (docs/RELIABILITY.md).
"""

from __future__ import annotations

import json

LOAD_POOL = "perfpipe_load"
MAINTENANCE_POOL = "perfpipe_maintenance"
POOL_DESCRIPTIONS = {
    LOAD_POOL: "perfpipe load generators: one run's shards at a time against the targets",
    MAINTENANCE_POOL: "perfpipe tasks that change or load the target database (VACUUM, indexes, benchmark)",
}


def pools_json(load_slots: int = 1, maintenance_slots: int = 1) -> str:
    """The pools as ``airflow pools import`` reads them."""
    slots = {LOAD_POOL: load_slots, MAINTENANCE_POOL: maintenance_slots}
    return json.dumps(
        {
            name: {"slots": slots[name], "description": text, "include_deferred": False}
            for name, text in POOL_DESCRIPTIONS.items()
        },
        indent=2,
    )
