"""Airflow cluster policies, imported by every Airflow component (the plugins folder is on sys.path).

``task_instance_mutation_hook`` routes load_test tasks to the run's ``load_queue`` Param
(include/pipelines/placement.py). A deployment with its own airflow_local_settings.py imports it there.
"""
from include.pipelines.placement import task_instance_mutation_hook

__all__ = ["task_instance_mutation_hook"]
