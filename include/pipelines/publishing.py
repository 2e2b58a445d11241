"""Publishing a run: record it in the results store, render its report, publish the report folder
(``report_storage``), annotate the report Asset's event and, when the verdict is not pass, notify
(``notifications``). The run's identity comes from ``run_identity``.

The rendering and the store live in ``include.perfpipe`` (no Airflow); this module is the Airflow side.
"""

from __future__ import annotations

import json
import logging

from airflow.sdk import Asset

from include.perfpipe.regression.analysis import HISTORY_RUNS
from include.perfpipe.vocabulary import RESULTS_DB_CONN
from include.pipelines.notifications import alert_for, notify
from include.pipelines.report_storage import publish_folder, reports_base
from include.pipelines.run_identity import run_identity

log = logging.getLogger(__name__)

# Asset URIs are fixed when the DAG is parsed, so there is one report Asset; each event's extra names
# the run, target, profile, verdict and report URL (read them from ``inlet_events`` downstream).
report_asset = Asset(uri="perfpipe://reports", name="perfpipe_reports", group="perfpipe")


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
    """Record, render and publish one run; the stage results it is given are read, never changed.

    Returns ``{verdict, reason, report_url, report_dir, run_id, regressed, regression_reason}``; the
    regression fields say whether the load test is significantly worse than its baseline.

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

    stored, store_error = _record(bundle, verdict, reason, mark_baseline=ctx["params"].get("mark_baseline"))
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


def _record(bundle: dict, verdict: str, reason: str, mark_baseline: bool) -> tuple[dict, Exception | None]:
    """Save the run in the results store; returns what the report adds from it (``baseline``,
    ``baseline_note``, ``history``, ``regression``, as far as they were read) and the error, if any."""
    from include.perfpipe.regression.baseline import shape_of
    from include.perfpipe.store import ResultsStore
    from include.pipelines.targets import postgres_dsn

    run, added = bundle["run"], {}
    try:  # record first: the results must not depend on rendering or publishing succeeding
        store = ResultsStore(postgres_dsn(RESULTS_DB_CONN))
        store.migrate()
        added = store.comparison(run, limit=HISTORY_RUNS, shape=shape_of(bundle["loadtest"]))
        added = {**added, "regression": regression_for(store, {**bundle, **added}, verdict)}
        store.save_bundle({**bundle, **added}, verdict, reason, report_url=run["report_url"])
        if mark_baseline and verdict == "pass":
            store.mark_baseline(run["dag_id"], run["run_id"])
        elif mark_baseline:
            log.warning("not marked as baseline: the verdict is %s, not pass", verdict)
    except Exception as exc:
        log.exception(
            "recording the run in the results store (connection %s) failed; publishing the report without history",
            RESULTS_DB_CONN,
        )
        return added, exc
    return added, None
