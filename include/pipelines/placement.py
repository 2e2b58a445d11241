"""Where a load test's shards run: the ``load_queue`` routing policy, and preflight's check that every
shard gets a worker slot at the common start.

A task's queue is fixed when the DAG is parsed, so the ``load_queue`` Param routes through Airflow's
``task_instance_mutation_hook`` cluster policy (``plugins/airflow_local_settings.py`` exports it),
which sets the queue of every ``load_test`` task instance from the run's conf. The load test checks
that it did run on that queue, so a deployment without the policy fails loudly instead of silently.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

LOAD_QUEUE_PARAM = "load_queue"
LOAD_TASK_ID = "load_test"
INSPECT_TIMEOUT_S = 2.0


def requested_queue(conf: dict | None) -> str | None:
    """The run's ``load_queue``, or None for the task's own (default) queue."""
    queue = (conf or {}).get(LOAD_QUEUE_PARAM)
    return queue.strip() if isinstance(queue, str) and queue.strip() else None


def task_instance_mutation_hook(task_instance, dag_run=None) -> None:
    """Cluster policy: route ``load_test`` task instances (in task groups too) to the run's ``load_queue``."""
    if dag_run is None or task_instance.task_id.rpartition(".")[2] != LOAD_TASK_ID:
        return
    queue = requested_queue(dag_run.conf)
    if queue:
        task_instance.queue = queue


@dataclass(frozen=True)
class WorkerSlots:
    """A Celery worker as the load check sees it: its queues, task slots, and slots taken by other runs."""

    name: str
    queues: tuple[str, ...]
    slots: int
    busy: int

    @property
    def free(self) -> int:
        return max(self.slots - self.busy, 0)


def placement_problem(shards: int, queue: str, workers: list[WorkerSlots]) -> str | None:
    """Why ``shards`` shards would not all start together on ``queue``, or None when they fit."""
    serving = [w for w in workers if queue in w.queues]
    if not serving:
        known = sorted({q for w in workers for q in w.queues})
        return (
            f"load_queue {queue!r}: no Celery worker serves it (queues served: {', '.join(known) or 'none'}); "
            f"start a worker with `airflow celery worker --queues {queue}` or pick another queue"
        )
    free = sum(w.free for w in serving)
    if shards > free:
        where = ", ".join(f"{w.name} {w.free}/{w.slots}" for w in serving)
        return (
            f"shards: {shards} shards need {shards} free worker slots on queue {queue!r}, but only {free} "
            f"are free ({where}); a shard that waits for a slot misses the common start and the run is "
            f"INVALID. Lower shards, add workers to the queue, or wait for the other runs to finish"
        )
    return None


def _workload_run(request: dict) -> tuple[str, str] | None:
    """(dag_id, run_id) of an active or reserved Celery request carrying an Airflow workload."""
    try:
        ti = json.loads(request["args"][0])["ti"]
        return ti["dag_id"], ti["run_id"]
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def celery_workers(dag_id: str, run_id: str) -> list[WorkerSlots]:
    """The live Celery workers (``control.inspect``); this run's own tasks do not count as busy, since
    they finish before its shards start."""
    from airflow.providers.celery.executors.celery_executor_utils import app

    # the broadcast waits its whole timeout (the number of workers is unknown); the rest return on the last reply
    queues = app.control.inspect(timeout=INSPECT_TIMEOUT_S).active_queues() or {}
    if not queues:
        return []
    inspect = app.control.inspect(destination=list(queues), limit=len(queues), timeout=INSPECT_TIMEOUT_S)
    stats = inspect.stats() or {}
    taken = {}
    for listing in (inspect.active() or {}, inspect.reserved() or {}):
        for name, requests in listing.items():
            taken[name] = taken.get(name, 0) + sum(1 for r in requests if _workload_run(r) != (dag_id, run_id))
    return [
        WorkerSlots(
            name=name,
            queues=tuple(q["name"] for q in queues[name]),
            slots=int(stats.get(name, {}).get("pool", {}).get("max-concurrency", 1)),
            busy=taken.get(name, 0),
        )
        for name in sorted(queues)
    ]


def check_load_placement(shards: int, queue: str | None, *, dag_id: str, run_id: str) -> str | None:
    """On the CeleryExecutor, why the shards would not fit the free slots of their queue (None: they fit).

    Other executors give each task its own process or pod, so there is nothing to count here.
    """
    from airflow.configuration import conf

    if "celery" not in conf.get("core", "executor").lower():
        log.info("executor %s: no worker-slot check for the shards", conf.get("core", "executor"))
        return None
    queue = queue or conf.get("operators", "default_queue")
    workers = celery_workers(dag_id, run_id)
    log.info("Celery workers: %s", ", ".join(f"{w.name} {'+'.join(w.queues)} {w.free}/{w.slots} free" for w in workers))
    return placement_problem(shards, queue, workers)


def shared_reports_problem() -> str | None:
    """On an executor that spreads tasks over machines, why the reports would split (None: they will not).

    validate writes the Data Docs and publish the report, possibly on different workers: both must
    publish to one shared ``PERFPIPE_REPORTS_URL``.
    """
    import os

    from airflow.configuration import conf

    from include.perfpipe.vocabulary import REPORTS_URL_ENV

    executor = conf.get("core", "executor")
    if os.environ.get(REPORTS_URL_ENV) or not any(k in executor.lower() for k in ("celery", "kubernetes", "edge")):
        return None
    return (
        f"{REPORTS_URL_ENV}: not set, but the executor {executor} runs tasks on several machines, so the report "
        f"and its Data Docs would land on different disks; set it to shared storage (s3://bucket/perfpipe, "
        f"gs://..., or a file:// folder every worker mounts)"
    )
