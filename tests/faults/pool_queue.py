"""What Airflow's scheduler would queue when two perfpipe DAG runs want the same pool at once.

Run with an ``AIRFLOW_HOME`` whose metadata DB is migrated: syncs the DAGs to it, starts a run of each
DAG named with its ``TASK`` scheduled, and for each number of ``perfpipe_load`` slots given sets the
pools (``pools_json``) and asks the scheduler's own pool-aware selection (``SchedulerJobRunner.
_executable_task_instances_to_queued``) what it would queue. Prints ``{slots: ["dag:task", ...]}`` as
JSON on the last line; the runs are deleted again.

Usage: python tests/faults/pool_queue.py 1,2 DAG:TASK [DAG:TASK ...]
"""

import json
import sys
import uuid
from datetime import UTC, datetime

from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
from airflow.jobs.job import Job
from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
from airflow.models.dagrun import DagRun
from airflow.models.pool import Pool
from airflow.models.serialized_dag import SerializedDagModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunTriggeredByType, DagRunType
from sqlalchemy import delete

from include.pipelines.pools import pools_json

slot_counts, wanted = [int(n) for n in sys.argv[1].split(",")], [arg.split(":") for arg in sys.argv[2:]]
manager = DagBundlesManager()
manager.sync_bundles_to_db()
for bundle in manager.get_all_dag_bundles():
    bundle.initialize()
    sync_bag_to_db(
        BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name), bundle.name, None
    )
with create_session() as session:
    now, run_ids = datetime.now(UTC), []
    for dag_id, task_id in wanted:
        dag = SerializedDagModel.get_dag(dag_id, session=session)
        run = dag.create_dagrun(
            run_id=f"pools_{uuid.uuid4().hex[:8]}",
            run_after=now,
            run_type=DagRunType.MANUAL,
            triggered_by=DagRunTriggeredByType.TEST,
            state=DagRunState.RUNNING,
            session=session,
        )
        run_ids.append(run.run_id)
        (ti,) = [ti for ti in run.get_task_instances(session=session) if ti.task_id == task_id]
        ti.state = TaskInstanceState.SCHEDULED
        session.merge(ti)
    session.commit()
    queued = {}
    for load_slots in slot_counts:
        for name, pool in json.loads(pools_json(load_slots=load_slots)).items():
            Pool.create_or_update_pool(name, pool["slots"], pool["description"], False, session=session)
        session.commit()
        chosen = SchedulerJobRunner(job=Job())._executable_task_instances_to_queued(max_tis=32, session=session)
        queued[load_slots] = sorted(f"{ti.dag_id}:{ti.task_id}" for ti in chosen)
        session.rollback()  # nothing is queued for real
    session.execute(delete(DagRun).where(DagRun.run_id.in_(run_ids)))
    session.commit()
print(json.dumps(queued))
