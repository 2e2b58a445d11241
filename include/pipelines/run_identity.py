"""Which run a publish task records: its DAG, run id (per task group), profile, target, version and times."""

from __future__ import annotations

from datetime import UTC, datetime


def group_run_id(ctx) -> str:
    """The run id, suffixed with the task group (the release gate's profile) so each keeps its own results."""
    group = ctx["ti"].task_id.rpartition(".")[0]
    return f"{ctx['run_id']}.{group}" if group else ctx["run_id"]


def _target_of(params) -> str:
    """The run's target when preflight did not say: the HTTP connection's URL (as the run list shows it), else
    the connection id (the DB maintenance DAG: a DSN could carry a password)."""
    from include.pipelines.targets import http_target

    if params.get("target_conn_id"):
        try:
            return http_target(params["target_conn_id"])[0]
        except Exception:
            return params["target_conn_id"]
    return params.get("db_conn_id") or "unknown"


def run_identity(ctx, plan: dict | None) -> dict:
    """The run's identity: from the preflight plan, else (preflight failed, or no load test) from the context."""
    params = ctx["params"]
    if plan:
        run = plan["run"]
    else:
        run = {
            "dag_id": ctx["dag"].dag_id,
            "run_id": group_run_id(ctx),
            "profile": params.get("profile") or ctx["dag"].dag_id,
            "target": _target_of(params),
            "version": params.get("version") or None,
            "started_at": ctx["dag_run"].start_date.isoformat() if ctx["dag_run"].start_date else None,
        }
    return {**run, "ended_at": datetime.now(UTC).isoformat()}
