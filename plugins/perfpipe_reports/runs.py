"""Where the page's runs come from: the results store, else the published report folders."""

from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path

from include.perfpipe.vocabulary import REPORTS_DIR_ENV, REPORTS_URL_ENV, RESULTS_DB_CONN, RESULTS_DB_ENV
from perfpipe_reports.storage import ReportsTree

log = logging.getLogger(__name__)
PAGE_CONNECT_TIMEOUT_S = 3  # an unreachable store: the page falls back to the folders on disk after this
PAGE_STATEMENT_TIMEOUT_S = 10


def reports_location() -> str:
    """Where the reports are read: the shared ``$PERFPIPE_REPORTS_URL`` (a ``file://`` folder or object storage,
    where the executor's workers publish), else the local ``$PERFPIPE_REPORTS_DIR``."""
    return os.environ.get(REPORTS_URL_ENV) or Path(os.environ.get(REPORTS_DIR_ENV, "reports")).resolve().as_uri()


def results_dsn() -> str | None:
    """The results store: the ``perf_results_db`` connection, else ``$PERFPIPE_DB_URL``, else None."""
    try:
        from airflow.models.connection import Connection

        conn = Connection.get_connection_from_secrets(RESULTS_DB_CONN)
        return conn.get_uri()
    except Exception:
        return os.environ.get(RESULTS_DB_ENV)


@lru_cache(maxsize=1024)
def _summary(tree: ReportsTree, folder: str, mtime: float) -> dict | None:
    """A report's summary.json (cached per file version), None when unreadable."""
    content = tree.read_bytes(f"{folder}/summary.json")
    try:
        return json.loads(content) if content is not None else None
    except ValueError:
        return None


def _run_facts(tree: ReportsTree, folder: str, mtime: float | None = None) -> dict | None:
    """The list's columns for one report folder (``<dag_id>/<run>``), from its summary.json."""
    mtime = tree.mtime(f"{folder}/summary.json") if mtime is None else mtime
    data = _summary(tree, folder, mtime) if mtime is not None else None
    if data is None:
        return None
    run, verdict = data.get("run") or {}, data.get("verdict") or {}
    totals = data.get("totals") or {}
    return {
        **{k: run.get(k) for k in ("dag_id", "run_id", "profile", "target", "version", "started_at")},
        "verdict": verdict.get("verdict"),
        "reason": verdict.get("reason"),
        "is_baseline": False,
        "regressions": verdict.get("regressions") or 0,
        "rps": totals.get("rps"),
        "p95_ms": totals.get("p95_ms"),
        "error_rate": totals.get("error_rate"),
        "folder": folder,
        "report_url": None,
        "mtime": mtime,
    }


def runs_from_folders(tree: ReportsTree, limit: int) -> list[dict]:
    """Runs read from ``<root>/<dag_id>/<run>/summary.json``, newest first."""
    found = [facts for folder, mtime in tree.summaries().items() if (facts := _run_facts(tree, folder, mtime))]
    found.sort(key=lambda r: r["mtime"], reverse=True)
    return found[:limit]


def run_reports(tree: ReportsTree, dag_id: str, run_id: str) -> list[dict]:
    """The reports of one DAG run: its folder, or one per task group (``<run>.<profile>``, the release gate)."""
    from include.perfpipe.runs import folder_name

    name = folder_name(run_id)
    parts = [p for p in tree.folders(folder_name(dag_id)) if p == name or p.startswith(name + ".")]
    return [facts for p in parts if (facts := _run_facts(tree, f"{folder_name(dag_id)}/{p}"))]


def list_runs(tree: ReportsTree, dsn: str | None, limit: int = 200) -> tuple[list[dict], str | None]:
    """Runs for the page and a notice (why the store was not used), newest first."""
    if not dsn:
        return runs_from_folders(tree, limit), "No results store configured; showing the published report folders."
    try:
        from include.perfpipe.store import ResultsStore

        runs = ResultsStore(dsn, PAGE_CONNECT_TIMEOUT_S, PAGE_STATEMENT_TIMEOUT_S).list_runs(limit)
    except Exception as exc:
        log.warning("results store unavailable: %s", exc)
        return runs_from_folders(
            tree, limit
        ), f"The results store is unavailable ({type(exc).__name__}); showing the published report folders."
    for run in runs:
        run["folder"] = tree.folder_of(run.get("report_url"))
        facts = _run_facts(tree, run["folder"]) if run["folder"] else None
        run["regressions"] = facts["regressions"] if facts else 0
    return runs, None
