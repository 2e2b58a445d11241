"""FastAPI app of the "Performance reports" page: the run list and the report files.

Mounted by the Airflow API server under ``/perfpipe``; every route sits behind ``auth`` (Airflow's own
authentication in the plugin, a stand-in in tests).
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import jinja2
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from perfpipe_reports.runs import list_runs

_PAGE = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Performance reports</title>
<style>
body{font-family:system-ui,sans-serif;margin:1rem 2rem;color:#1f2933}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #d9e2ec;padding:.35rem .5rem;text-align:left}th{background:#f0f4f8}
.v{font-weight:700;text-transform:uppercase;padding:.1rem .4rem;border-radius:4px}
.v-pass{background:#e3f9e5;color:#207227}.v-fail{background:#ffe3e3;color:#a61b1b}
.v-invalid{background:#fff3c4;color:#8d6708}.v-error{background:#e4e7eb;color:#3e4c59}
.notice{background:#fff3c4;padding:.5rem 1rem;border-radius:6px}.num{text-align:right}
</style></head><body>
<h1>Performance reports</h1>
{% if notice %}<p class="notice">{{ notice }}</p>{% endif %}
{% if not runs %}<p>No runs yet. Trigger <code>perf_smoke</code> from the DAG list, or run <code>make demo</code>.</p>{% else %}
<table id="runs"><tr><th>started</th><th>DAG</th><th>run</th><th>target</th><th>profile</th><th>version</th><th>verdict</th>
<th class="num">req/s</th><th class="num">p95 ms</th><th class="num">errors</th><th>report</th></tr>
{% for r in runs %}<tr><td>{{ r.started_at or "" }}</td><td>{{ r.dag_id }}</td><td><code>{{ r.run_id }}</code>{% if r.is_baseline %} <b>baseline</b>{% endif %}</td>
<td>{{ r.target }}</td><td>{{ r.profile }}</td><td>{{ r.version or "" }}</td>
<td><span class="v v-{{ r.verdict or 'none' }}" title="{{ r.reason or '' }}">{{ r.verdict or "running" }}</span></td>
<td class="num">{{ "%.1f"|format(r.rps) if r.rps is not none else "" }}</td><td class="num">{{ "%.1f"|format(r.p95_ms) if r.p95_ms is not none else "" }}</td>
<td class="num">{{ "%.2f %%"|format(r.error_rate * 100) if r.error_rate is not none else "" }}</td>
<td>{% if r.local %}<a href="reports/{{ r.local|urlencode }}/report.html" target="_blank" rel="noopener">report</a>{% elif r.report_url and r.report_url.startswith(("http://", "https://")) %}<a href="{{ r.report_url }}" target="_blank" rel="noopener">report</a>{% elif r.report_url %}<code>{{ r.report_url }}</code>{% endif %}</td></tr>
{% endfor %}</table>{% endif %}
</body></html>""")


def create_app(reports_dir: Path, dsn: Callable[[], str | None], auth: Callable | None = None) -> FastAPI:
    """The page's app; ``dsn`` is called per request so a connection added later is picked up."""
    dependencies = [Depends(auth)] if auth else []
    app = FastAPI(title="perfpipe reports", dependencies=dependencies, docs_url=None, redoc_url=None,
                  openapi_url=None)
    base = Path(reports_dir).resolve()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        runs, notice = await asyncio.to_thread(list_runs, base, dsn())
        return _PAGE.render(runs=runs, notice=notice)

    @app.get("/api/runs")
    async def runs_json() -> dict:
        runs, notice = await asyncio.to_thread(list_runs, base, dsn())
        return {"runs": runs, "notice": notice}

    @app.get("/reports/{dag_id}/{run}/{path:path}")
    async def report_file(dag_id: str, run: str, path: str) -> FileResponse:
        target = (base / dag_id / run / path).resolve()
        if not target.is_relative_to(base / dag_id / run) or not target.is_file():
            raise HTTPException(status_code=404, detail="no such report file")
        return FileResponse(target)

    return app
