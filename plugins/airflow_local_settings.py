"""Airflow cluster policies, imported by every Airflow component (the plugins folder is on sys.path).

``task_instance_mutation_hook`` routes load_test tasks to the run's ``load_queue`` Param
(include/pipelines/placement.py). A deployment with its own airflow_local_settings.py imports it there.
Airflow imports this file before it puts the DAGs folder on sys.path, so the project root (this
folder's parent, which holds ``include/``) is added here: ``airflow db migrate`` run from anywhere works.
"""

import sys
from pathlib import Path

_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
if _PROJECT_ROOT not in sys.path:
    sys.path.append(_PROJECT_ROOT)

from include.pipelines.placement import task_instance_mutation_hook  # noqa: E402

__all__ = ["task_instance_mutation_hook"]
