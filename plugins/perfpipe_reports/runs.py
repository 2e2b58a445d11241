"""Where the page's runs come from: the results store, else the report folders on disk."""

from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from include.perfpipe.vocabulary import REPORTS_DIR_ENV, REPORTS_URL_ENV, RESULTS_DB_CONN, RESULTS_DB_ENV

log = logging.getLogger(__name__)
PAGE_CONNECT_TIMEOUT_S = 3  # an unreachable store: the page falls back to the folders on disk after this
PAGE_STATEMENT_TIMEOUT_S = 10


def reports_dir() -> Path:
    """Where the reports are read: the shared ``$PERFPIPE_REPORTS_URL`` when it is a ``file://`` folder
    (the executor's workers publish there), else the local ``$PERFPIPE_REPORTS_DIR``."""
    shared = urlsplit(os.environ.get(REPORTS_URL_ENV, ""))
    if shared.scheme == "file":
        return Path(unquote(shared.path)).resolve()
    return Path(os.environ.get(REPORTS_DIR_ENV, "reports")).resolve()


def results_dsn() -> str | None:
    """The results store: the ``perf_results_db`` connection, else ``$PERFPIPE_DB_URL``, else None."""
    try:
        from airflow.models.connection import Connection

        conn = Connection.get_connection_from_secrets(RESULTS_DB_CONN)
        return conn.get_uri()
    except Exception:
        return os.environ.get(RESULTS_DB_ENV)


def local_report(report_url: str | None, base: Path) -> str | None:
    """``<dag_id>/<run folder>`` when the report URL is a file under the reports folder, else None."""
    if not report_url or urlsplit(report_url).scheme != "file":
        return None
    path = Path(unquote(urlsplit(report_url).path))
    try:
        rel = path.parent.resolve().relative_to(base)
    except ValueError:
        return None
    return rel.as_posix() if len(rel.parts) == 2 else None


@lru_cache(maxsize=1024)
def _summary(path: Path, mtime_ns: int) -> dict | None:
    """A report's summary.json (cached per file version), None when unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run_facts(folder: Path, base: Path) -> dict | None:
    """The list's columns for one report folder, from its summary.json."""
    summary = folder / "summary.json"
    try:
        data = _summary(summary, summary.stat().st_mtime_ns)
    except OSError:
        return None
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
        "local": folder.relative_to(base).as_posix(),
        "report_url": None,
        "mtime": summary.stat().st_mtime,
    }


def runs_from_disk(base: Path, limit: int) -> list[dict]:
    """Runs read from ``<base>/<dag_id>/<run>/summary.json``, newest first."""
    found = [facts for summary in base.glob("*/*/summary.json") if (facts := _run_facts(summary.parent, base))]
    found.sort(key=lambda r: r["mtime"], reverse=True)
    return found[:limit]


def run_reports(base: Path, dag_id: str, run_id: str) -> list[dict]:
    """The reports of one DAG run: its folder, or one per task group (``<run>.<profile>``, the release gate)."""
    from include.perfpipe.runs import run_folder_name

    name = run_folder_name(run_id)
    folder = (base / dag_id).resolve()
    if not folder.is_relative_to(base) or not folder.is_dir():
        return []
    parts = [p for p in folder.iterdir() if p.is_dir() and (p.name == name or p.name.startswith(name + "."))]
    found = [facts for p in sorted(parts) if (facts := _run_facts(p, base))]
    return found


def list_runs(base: Path, dsn: str | None, limit: int = 200) -> tuple[list[dict], str | None]:
    """Runs for the page and a notice (why the store was not used), newest first."""
    if not dsn:
        return runs_from_disk(base, limit), "No results store configured; showing the report folders on disk."
    try:
        from include.perfpipe.store import ResultsStore

        runs = ResultsStore(dsn, PAGE_CONNECT_TIMEOUT_S, PAGE_STATEMENT_TIMEOUT_S).list_runs(limit)
    except Exception as exc:
        log.warning("results store unavailable: %s", exc)
        return runs_from_disk(
            base, limit
        ), f"The results store is unavailable ({type(exc).__name__}); showing the report folders on disk."
    for run in runs:
        run["local"] = local_report(run.get("report_url"), base)
        facts = _run_facts(base / run["local"], base) if run["local"] else None
        run["regressions"] = facts["regressions"] if facts else 0
    return runs, None
