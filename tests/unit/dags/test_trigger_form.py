"""The Airflow 3 trigger form submits with its defaults on every DAG.

The form treats a field as required when its schema type does not include "null", and a required field
holding None or "" disables the Trigger button (the rule of the UI's FlexibleForm). Every default must
also pass Airflow's own Param validation, which the API server runs on the submitted conf.
"""
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[3] / "dags"


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def form_requires(schema: dict) -> bool:
    """The UI's rule: a typed field whose type does not include "null" is required."""
    kinds = schema.get("type")
    return bool(kinds) and "null" not in (kinds if isinstance(kinds, list) else [kinds])


def form_blockers(dag) -> list[str]:
    """The fields that keep the Trigger button disabled, or fail validation, when nothing is changed."""
    from airflow.sdk.definitions.param import ParamValidationError

    blockers = []
    for name in dag.params:
        param = dag.params.get_param(name)
        if form_requires(param.schema) and param.value in (None, ""):
            blockers.append(f"{name}: empty default {param.value!r} counts as required")
            continue
        try:
            param.resolve(param.value)
        except ParamValidationError as exc:
            blockers.append(f"{name}: {exc}")
    return blockers


def test_every_dag_form_triggers_with_its_defaults(dag_bag):
    assert dag_bag.dags
    for dag_id, dag in dag_bag.dags.items():
        assert form_blockers(dag) == [], dag_id


def test_an_empty_string_default_blocks_the_form():
    from airflow.sdk import DAG, Param

    dag = DAG("form_probe", schedule=None, params={
        "version": Param("", type="string", description="label"),
        "label": Param(None, type=["null", "string"], description="label"),
    })
    assert form_blockers(dag) == ["version: empty default '' counts as required"]
