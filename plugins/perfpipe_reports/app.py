"""FastAPI app of the "Performance reports" page: the run list, one run's report, and the report files.

Mounted by the Airflow API server under ``/perfpipe``; every route sits behind ``auth`` (Airflow's own
authentication in the plugin, a stand-in in tests), and shows a run only to a user who may read its DAG's
runs (``readable``: the auth manager's per-DAG check in the plugin). The UI shows these pages in a sandboxed
iframe without ``allow-popups`` or top navigation, so every link opens in the same frame.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Callable, Iterable
from pathlib import Path

import jinja2
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from include.perfpipe.runs import folder_id
from perfpipe_reports.runs import list_runs, run_reports
from perfpipe_reports.storage import ReportsTree

# A report is self-contained: inline scripts (plotly) and styles, data: images; nothing is fetched, and the
# sandbox gives it an opaque origin, so its scripts cannot use the viewer's Airflow session.
REPORT_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src 'self' data:; font-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'; sandbox allow-scripts",
}
_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)


Readable = Callable[[Iterable[str]], set[str]]  # which of these DAG ids the requesting user may read runs of


def _all_readable() -> Readable:
    return set


def create_app(
    reports: str | Path,
    dsn: Callable[[], str | None],
    auth: Callable | None = None,
    readable: Callable[..., Readable] = _all_readable,
) -> FastAPI:
    """The page's app on the reports folder or URL ``reports`` (``storage.ReportsTree``); ``dsn`` is called per
    request so a connection added later is picked up. ``readable``: a FastAPI dependency giving the request's
    ``Readable`` (by default every DAG, for tests without Airflow)."""
    dependencies = [Depends(auth)] if auth else []
    app = FastAPI(title="perfpipe reports", dependencies=dependencies, docs_url=None, redoc_url=None, openapi_url=None)
    tree = ReportsTree(reports)
    # a default, not an Annotated alias: FastAPI resolves this module's string annotations in its globals
    may_read_of = Depends(readable)

    async def readable_runs(may_read: Readable) -> tuple[list[dict], str | None]:
        runs, notice = await asyncio.to_thread(list_runs, tree, dsn())
        allowed = await asyncio.to_thread(may_read, {r["dag_id"] for r in runs})
        return [r for r in runs if r["dag_id"] in allowed], notice

    async def check_readable(may_read: Readable, dag_id: str) -> None:
        if dag_id not in await asyncio.to_thread(may_read, {dag_id}):
            raise HTTPException(status_code=403, detail=f"you may not read the runs of DAG {dag_id!r}")

    @app.get("/", response_class=HTMLResponse)
    async def index(may_read: Readable = may_read_of) -> str:
        runs, notice = await readable_runs(may_read)
        return _TEMPLATES.get_template("index.html").render(runs=runs, notice=notice)

    @app.get("/api/runs")
    async def runs_json(may_read: Readable = may_read_of) -> dict:
        runs, notice = await readable_runs(may_read)
        return {"runs": runs, "notice": notice}

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse, response_model=None)
    async def run_report(
        dag_id: str, run_id: str, request: Request, may_read: Readable = may_read_of
    ) -> RedirectResponse | str:
        """The "Performance report" tab of a DAG run: its report, or the list of its parts (release gate)."""
        await check_readable(may_read, dag_id)
        runs = await asyncio.to_thread(run_reports, tree, dag_id, run_id)
        if len(runs) == 1:
            return RedirectResponse(f"../../reports/{runs[0]['folder']}/report.html", status_code=307)
        return _TEMPLATES.get_template("run.html").render(dag_id=dag_id, run_id=run_id, runs=runs)

    @app.get("/reports/{dag_id}/{run}/{path:path}")
    async def report_file(dag_id: str, run: str, path: str, may_read: Readable = may_read_of) -> Response:
        """A file of one run folder (never outside it): from disk, or read from object storage; served so that
        it cannot act as the Airflow UI's origin. ``dag_id`` is the DAG's folder name (``runs.folder_name``)."""
        folder = f"{dag_id}/{run}"
        if "/" in dag_id or "/" in run or ".." in (dag_id, run) or not _inside(path):
            raise HTTPException(status_code=404, detail="no such report file")
        await check_readable(may_read, folder_id(dag_id))
        if tree.is_local:
            target = await asyncio.to_thread(tree.local_file, f"{folder}/{path}")
            if target is not None and target.is_relative_to(Path(tree.root, dag_id, run)):
                return FileResponse(target, headers=REPORT_FILE_HEADERS)
        elif (content := await asyncio.to_thread(tree.read_bytes, f"{folder}/{path}")) is not None:
            media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
            return Response(content, media_type=media_type, headers=REPORT_FILE_HEADERS)
        raise HTTPException(status_code=404, detail="no such report file")

    return app


def _inside(path: str) -> bool:
    """Whether a path relative to a run folder stays in it."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 1
        if depth < 0:
            return False
    return depth > 0
