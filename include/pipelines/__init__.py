"""Airflow wiring of the perfpipe stages: TaskFlow tasks and a DAG factory. The logic lives in include/perfpipe."""
