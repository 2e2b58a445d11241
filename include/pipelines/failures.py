"""The first failing task of a run, for its verdict and report.

Every perfpipe task records its error on failure (``record_failure``, an ``on_failure_callback`` in the
DAGs' default args) as an XCom; ``publish`` reads those of its upstream tasks (``first_failure``), so a
failed run's report names the task and its message instead of "an upstream task failed".
"""

from __future__ import annotations

import time

FAILURE_KEY = "perfpipe_failure"
MAX_ERROR_CHARS = 2000


def record_failure(context) -> None:
    """on_failure_callback: keep the failed task's id and error message (the last try's) in XCom."""
    ti = context["ti"]
    error = context.get("exception")
    message = (str(error) or type(error).__name__) if error is not None else "failed without an error message"
    ti.xcom_push(
        key=FAILURE_KEY,
        value={
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "error": message[:MAX_ERROR_CHARS],
            "failed_at": time.time(),
        },
    )


def first_failure(ctx) -> dict | None:
    """``{"task_id", "map_index", "error"}`` of the earliest failed upstream task of this one, else None."""
    upstream = sorted(ctx["task"].get_flat_relative_ids(upstream=True))
    if not upstream:
        return None
    found = [f for f in ctx["ti"].xcom_pull(task_ids=upstream, key=FAILURE_KEY) or [] if isinstance(f, dict)]
    if not found:
        return None
    first = min(found, key=lambda f: f.get("failed_at") or 0)
    return {k: first.get(k) for k in ("task_id", "map_index", "error")}
