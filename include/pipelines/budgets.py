"""A DB task's time budget: its ``execution_timeout`` less a margin, counted from the task's start, so every
statement it runs ends before Airflow ends the task (``include/perfpipe/database/budget.py``)."""

from __future__ import annotations

from airflow.sdk import get_current_context

from include.perfpipe.database.budget import Budget

DB_TASK_MARGIN_S = 60  # after the last statement: the result's XCom and log, or a cancelled statement's reply


def db_task_budget() -> Budget | None:
    """What the running task may spend on statements from now on; None when it has no execution_timeout."""
    timeout = get_current_context()["task"].execution_timeout
    return Budget(timeout.total_seconds() - DB_TASK_MARGIN_S) if timeout else None
