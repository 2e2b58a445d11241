"""A one-task DAG that publishes a synthetic run with ``publish_run``; run it with ``dag.test()``.

The test copies this file into a DAGs folder and runs it as a script (the outcome is JSON on the last line).
"""

import json
from datetime import UTC, datetime

from airflow.sdk import DAG, Param, get_current_context, task

from include.pipelines.publishing import publish_run, report_asset
from tests.unit.reporting import synthetic

with DAG(
    "perfpipe_publish_check",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    params={
        "profile": Param("smoke", type="string"),
        "mark_baseline": Param(False, type="boolean"),
        "fail": Param(True, type="boolean"),
        "slow": Param(1.0, type="number"),
    },
) as dag:

    @task(outlets=[report_asset])
    def publish() -> dict:
        ctx = get_current_context()
        params = ctx["params"]
        bundle = synthetic.bundle(run_id=ctx["run_id"], fail=params["fail"])
        bundle["loadtest"] = synthetic.load_result(slow=params["slow"])
        # each run starts when it runs: a baseline is a run that started before the judged one
        started = datetime.now(UTC).isoformat()
        plan = {"run": {**bundle["run"], "dag_id": ctx["dag"].dag_id, "run_id": ctx["run_id"], "started_at": started}}
        database = dict(bundle["database"])
        benchmark = database.pop("benchmark")
        return publish_run(
            ctx, plan=plan, load=bundle["loadtest"], db=database, benchmark=benchmark, validation=bundle["validation"]
        )

    publish()

if __name__ == "__main__":
    import os

    from airflow.models.asset import AssetEvent
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    outcomes = []
    # a passing baseline, a slower run, then a run whose results store is unreachable
    for conf in ({"fail": False, "slow": 1.0}, {"fail": True, "slow": 2.0}, {"fail": False, "slow": 1.0}):
        if len(outcomes) == 2:
            os.environ["AIRFLOW_CONN_PERF_RESULTS_DB"] = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"
        run = dag.test(run_conf=conf)
        with create_session() as session:
            events = [e.extra for e in session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id)]
            value = (
                session.query(XComModel.value)
                .filter(XComModel.run_id == run.run_id, XComModel.key == "return_value")
                .scalar()
            )
        outcomes.append(
            {
                "state": str(run.state),
                "run_id": run.run_id,
                "events": events,
                "result": value if isinstance(value, dict) or value is None else json.loads(value),
            }
        )
    print(json.dumps(outcomes, default=str))
