"""Publishing a run: record it in the results store, render its report, copy the report folder to
``ObjectStoragePath(PERFPIPE_REPORTS_URL)/<dag_id>/<run>/``, annotate the report Asset's event and,
when the verdict is not pass, notify through an optional Slack or SMTP connection.

The rendering and the store live in ``include.perfpipe`` (no Airflow); this module is the Airflow side.
"""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import Asset

from include.perfpipe.regression.analysis import HISTORY_RUNS
from include.perfpipe.vocabulary import REPORTS_DIR_ENV, REPORTS_URL_ENV, RESULTS_DB_CONN

log = logging.getLogger(__name__)

SLACK_CONN = "perf_notify_slack"  # a Slack incoming-webhook connection (apache-airflow-providers-slack)
SMTP_CONN = "perf_notify_smtp"  # an SMTP connection; extra {"to": "a@x, b@y"} lists the recipients

# Asset URIs are fixed when the DAG is parsed, so there is one report Asset; each event's extra names
# the run, target, profile, verdict and report URL (read them from ``inlet_events`` downstream).
report_asset = Asset(uri="perfpipe://reports", name="perfpipe_reports", group="perfpipe")


def reports_base() -> str:
    """``$PERFPIPE_REPORTS_URL`` (``s3://``, ``gs://``, ``file://``), else the local reports folder."""
    return os.environ.get(REPORTS_URL_ENV) or Path(os.environ.get(REPORTS_DIR_ENV, "reports")).resolve().as_uri()


def publish_folder(local_dir: Path, base: str, dag_id: str) -> str:
    """Copy a rendered report folder to ``<base>/<dag_id>/<folder name>/``; returns the report.html URL.

    ``summary.json`` is copied last, so its presence means the whole report has arrived.
    """
    from airflow.sdk import ObjectStoragePath

    local_dir = Path(local_dir).resolve()
    dest = ObjectStoragePath(base) / dag_id / local_dir.name
    if dest.protocol == "file" and Path(dest.path).resolve() == local_dir:
        return str(dest / "report.html")  # rendered in place: nothing to copy
    files = sorted((p for p in local_dir.rglob("*") if p.is_file()), key=lambda p: (p.name == "summary.json", p))
    for src in files:
        target = dest / src.relative_to(local_dir).as_posix()
        target.parent.mkdir(parents=True, exist_ok=True)
        with src.open("rb") as fin, target.open("wb") as fout:
            shutil.copyfileobj(fin, fout)
    return str(dest / "report.html")


def _connection(conn_id: str):
    """The Airflow connection, or None when it is not configured."""
    from airflow.sdk.bases.hook import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:
        return None


def alert_for(verdict: str, gate: dict, fail_on_regression: bool) -> str:
    """What to notify about: the verdict, or ``regression`` for a passing run that regressed where that fails it."""
    return "regression" if verdict == "pass" and gate.get("regressed") and fail_on_regression else verdict


def notify(summary_md: str, verdict: str, subject: str) -> list[str]:
    """Send ``summary.md`` when the verdict is not pass, through each configured notifier; returns their names."""
    if verdict == "pass":
        return []
    sent = []
    if _connection(SLACK_CONN) is not None:
        try:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
        except ImportError:
            log.warning("connection %s is set but apache-airflow-providers-slack is not installed", SLACK_CONN)
        else:
            SlackWebhookHook(slack_webhook_conn_id=SLACK_CONN).send_text(summary_md)
            sent.append("slack")
    smtp = _connection(SMTP_CONN)
    if smtp is not None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        recipients = [a.strip() for a in str(smtp.extra_dejson.get("to", "")).split(",") if a.strip()]
        if not recipients:
            log.warning('connection %s has no recipients: set its extra to {"to": "a@example.com"}', SMTP_CONN)
        else:
            with SmtpHook(smtp_conn_id=SMTP_CONN) as hook:
                hook.send_email_smtp(
                    to=recipients, subject=subject, html_content=f"<pre>{html.escape(summary_md)}</pre>"
                )
            sent.append("smtp")
    return sent


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


def _run_info(ctx, plan: dict | None) -> dict:
    """The run's identity: from the preflight plan, else (preflight failed, or no load test) from the context."""
    params = ctx["params"]
    if plan:
        run = dict(plan["run"])
    else:
        run = {
            "dag_id": ctx["dag"].dag_id,
            "run_id": group_run_id(ctx),
            "profile": params.get("profile") or ctx["dag"].dag_id,
            "target": _target_of(params),
            "version": params.get("version") or None,
            "started_at": ctx["dag_run"].start_date.isoformat() if ctx["dag_run"].start_date else None,
        }
    run["ended_at"] = datetime.now(UTC).isoformat()
    return run


def regression_for(store, bundle: dict, verdict: str) -> dict | None:
    """The report's regression section (``regression.analyse_run``, as the CLI computes it); None without a
    load test. A comparison that cannot be made is reported in the section's gate reason."""
    from include.perfpipe.regression.analysis import analyse_run, unavailable_section

    load, baseline = bundle.get("loadtest"), bundle.get("baseline")
    if not load:
        return None
    try:
        return analyse_run(store, bundle["run"], load, verdict=verdict, baseline=baseline)
    except ValueError as exc:
        log.warning("no regression analysis: %s", exc)
        return unavailable_section(baseline is not None, exc)


def publish_run(
    ctx, *, plan: dict | None, load: dict | None, db: dict | None, benchmark: dict | None, validation: dict | None
) -> dict:
    """Record, render and publish one run.

    Returns ``{verdict, reason, report_url, report_dir, run_id, regressed, regression_reason}``; the
    regression fields say whether the load test is significantly worse than its baseline.

    The run is recorded first, then rendered and published; the report is published even when the
    results store is unreachable, and the task fails afterwards, so a retry records the run (writes
    are idempotent).
    """
    from airflow.sdk import ObjectStoragePath

    from include.perfpipe.regression.baseline import shape_of
    from include.perfpipe.reporting import render_report
    from include.perfpipe.runs import run_dir
    from include.perfpipe.store import ResultsStore
    from include.perfpipe.validation.verdict import run_verdict
    from include.pipelines.failures import first_failure
    from include.pipelines.targets import postgres_dsn

    run = _run_info(ctx, plan)
    database = {**(db or {}), "benchmark": benchmark} if (db or benchmark) else None
    bundle = {
        "run": run,
        "loadtest": load,
        "validation": validation,
        "database": database,
        "regression": None,
        "failure": first_failure(ctx),
    }
    verdict, reason = run_verdict(bundle)
    out_dir = run_dir(run["dag_id"], run["run_id"])
    base = reports_base()
    run["report_url"] = str(ObjectStoragePath(base) / run["dag_id"] / out_dir.name / "report.html")

    store_error = None
    try:  # record first: the results must not depend on rendering or publishing succeeding
        store = ResultsStore(postgres_dsn(RESULTS_DB_CONN))
        store.migrate()
        bundle.update(store.comparison(run, limit=HISTORY_RUNS, shape=shape_of(load)))
        bundle["regression"] = regression_for(store, bundle, verdict)
        store.save_bundle(bundle, verdict, reason, report_url=run["report_url"])
        if ctx["params"].get("mark_baseline") and verdict == "pass":
            store.mark_baseline(run["dag_id"], run["run_id"])
        elif ctx["params"].get("mark_baseline"):
            log.warning("not marked as baseline: the verdict is %s, not pass", verdict)
    except Exception as exc:
        store_error = exc
        log.exception(
            "recording the run in the results store (connection %s) failed; publishing the report without history",
            RESULTS_DB_CONN,
        )
    paths = render_report(bundle, out_dir)
    # the inputs too, so the report can be rendered again: python -m include.perfpipe report <bundle.json> --out DIR
    (out_dir / "bundle.json").write_text(json.dumps(bundle, default=str) + "\n")
    report_url = publish_folder(out_dir, base, run["dag_id"])

    ctx["outlet_events"][report_asset].extra = {
        "dag_id": run["dag_id"],
        "run_id": run["run_id"],
        "target": run["target"],
        "profile": run["profile"],
        "version": run.get("version"),
        "verdict": verdict,
        "reason": reason,
        "report_url": report_url,
    }
    gate = (bundle["regression"] or {}).get("gate") or {}
    alert = alert_for(verdict, gate, ctx["params"].get("fail_on_regression", False))
    notify(
        paths["markdown"].read_text(),
        alert,
        subject=f"perfpipe {alert.upper()}: {run['target']} / {run['profile']} ({run['dag_id']})",
    )
    if store_error is not None:
        raise RuntimeError(
            f"report published at {report_url}, but recording the run in the results store failed: {store_error}"
        ) from store_error
    return {
        "verdict": verdict,
        "reason": reason,
        "report_url": report_url,
        "report_dir": str(out_dir),
        "run_id": run["run_id"],
        "regressed": bool(gate.get("regressed")),
        "regression_reason": gate.get("reason"),
    }
