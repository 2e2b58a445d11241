"""Publishing a run: record it in the results store, render its report, publish the report folder
(``report_storage``), annotate the report Asset's event and, when the verdict is not pass, notify
(``notifications``). The run's identity comes from ``run_identity``.

The rendering and the store live in ``include.perfpipe`` (no Airflow); this module is the Airflow side.
"""

from __future__ import annotations

import json
import logging

from airflow.sdk import Asset

from include.perfpipe.vocabulary import RESULTS_DB_CONN
from include.pipelines.notifications import alert_for, notify
from include.pipelines.report_storage import publish_folder, reports_base
from include.pipelines.run_identity import run_identity

log = logging.getLogger(__name__)

# Asset URIs are fixed when the DAG is parsed, so there is one report Asset; each event's extra names
# the run, target, profile, verdict and report URL (read them from ``inlet_events`` downstream).
report_asset = Asset(uri="perfpipe://reports", name="perfpipe_reports", group="perfpipe")


def publish_run(
    ctx, *, plan: dict | None, load: dict | None, db: dict | None, benchmark: dict | None, validation: dict | None
) -> dict:
    """Record, render and publish one run; the stage results it is given are read, never changed.

    Returns ``{verdict, reason, report_url, report_dir, run_id, regressed, regression_reason}``; the
    regression fields say whether the load test is significantly worse than its baseline. With the
    ``fail_on_regression`` Param, a run the regression gate failed has the verdict ``fail``, in the store too.

    The run is recorded first, then rendered and published; the report is published even when the
    results store is unreachable, and the task fails afterwards, so a retry records the run (writes
    are idempotent).
    """
    from airflow.sdk import ObjectStoragePath

    from include.perfpipe.payloads import LoadResultPayload, PlannedRun, ValidationPayload, checked
    from include.perfpipe.reporting import render_report
    from include.perfpipe.runs import run_dir
    from include.perfpipe.validation.verdict import run_verdict
    from include.pipelines.failures import first_failure

    expected = {
        "plan": (PlannedRun, plan),
        "load": (LoadResultPayload, load),
        "validation": (ValidationPayload, validation),
    }
    for where, (model, value) in expected.items():
        if value is not None:  # None: the upstream task failed, and the report says so
            checked(model, value, where)
    run = run_identity(ctx, plan)
    bundle = {
        "run": run,
        "loadtest": load,
        "validation": validation,
        "database": {**(db or {}), "benchmark": benchmark} if (db or benchmark) else None,
        "regression": None,
        "failure": first_failure(ctx),
    }
    verdict, reason = run_verdict(bundle)
    out_dir = run_dir(run["dag_id"], run["run_id"])
    base = reports_base()
    report_url = str(ObjectStoragePath(base) / out_dir.parent.name / out_dir.name / "report.html")
    bundle = {**bundle, "run": {**run, "report_url": report_url}}

    params = ctx["params"]
    stored, store_error = _record(
        bundle,
        verdict,
        reason,
        mark_baseline=params.get("mark_baseline"),
        fail_on_regression=params.get("fail_on_regression", False),
    )
    verdict, reason = stored.pop("verdict", verdict), stored.pop("reason", reason)
    bundle = {**bundle, **stored}
    paths = render_report(bundle, out_dir)
    # the inputs too, so the report can be rendered again: python -m include.perfpipe report <bundle.json> --out DIR
    (out_dir / "bundle.json").write_text(json.dumps(bundle, default=str) + "\n")
    report_url = publish_folder(out_dir, base)

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


def _record(
    bundle: dict, verdict: str, reason: str, mark_baseline: bool, fail_on_regression: bool
) -> tuple[dict, Exception | None]:
    """Judge and save the run in the results store (``regression.analysis.record_run``); returns what the report
    adds from it (``baseline``, ``baseline_note``, ``history``, ``regression``, and ``verdict`` and ``reason``
    with the regression gate) and the error, if any."""
    from include.perfpipe.regression.analysis import record_run
    from include.perfpipe.store import ResultsStore
    from include.pipelines.targets import postgres_dsn

    try:  # record first: the results must not depend on rendering or publishing succeeding
        store = ResultsStore(postgres_dsn(RESULTS_DB_CONN))
        store.migrate()
        added = record_run(
            store, bundle, verdict, reason, mark_baseline=mark_baseline, fail_on_regression=fail_on_regression
        )
    except Exception as exc:
        log.exception(
            "recording the run in the results store (connection %s) failed; publishing the report without history",
            RESULTS_DB_CONN,
        )
        return {}, exc
    return added, None
