"""FastAPI app of the "Performance reports" page: the run list, one run's report, and the report files.

Mounted by the Airflow API server under ``/perfpipe``; every route sits behind ``auth`` (Airflow's own
authentication in the plugin, a stand-in in tests). The UI shows these pages in a sandboxed iframe
without ``allow-popups`` or top navigation, so every link opens in the same frame.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import jinja2
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from perfpipe_reports.runs import list_runs, run_reports

_STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:1rem 2rem;color:#1f2933}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #d9e2ec;padding:.35rem .5rem;text-align:left}th{background:#f0f4f8}
.v{font-weight:700;text-transform:uppercase;padding:.1rem .4rem;border-radius:4px}
.v-pass{background:#e3f9e5;color:#207227}.v-fail{background:#ffe3e3;color:#a61b1b}
.v-invalid{background:#fff3c4;color:#8d6708}.v-error{background:#e4e7eb;color:#3e4c59}
.regressed{color:#a61b1b;font-weight:600}
.notice{background:#fff3c4;padding:.5rem 1rem;border-radius:6px}.num{text-align:right}
</style>"""
_ENV = jinja2.Environment(autoescape=True)
_VERDICT = _ENV.from_string(
    '<span class="v v-{{ r.verdict or \'none\' }}" title="{{ r.reason or \'\' }}">{{ r.verdict or "running" }}</span>'
    '{% if r.regressions %} <span class="regressed">· {{ r.regressions }} regression{{ "s" if r.regressions != 1 }}'
    ' vs baseline</span>{% endif %}')
_LINK = _ENV.from_string(
    '{% if r.local %}<a href="{{ prefix }}reports/{{ r.local|urlencode }}/report.html">report</a>'
    '{% elif r.report_url and r.report_url.startswith(("http://", "https://")) %}<a href="{{ r.report_url }}">report</a>'
    '{% elif r.report_url %}<code>{{ r.report_url }}</code>{% endif %}')
_ENV.globals.update(verdict=lambda r: _VERDICT.render(r=r), link=lambda r, prefix="": _LINK.render(r=r, prefix=prefix))
_PAGE = _ENV.from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Performance reports</title>""" + _STYLE + """</head><body>
<h1>Performance reports</h1>
{% if notice %}<p class="notice">{{ notice }}</p>{% endif %}
{% if not runs %}<p>No runs yet. Trigger <code>perf_smoke</code> from the DAG list, or run <code>make demo</code>.</p>{% else %}
<table id="runs"><tr><th>started</th><th>DAG</th><th>run</th><th>target</th><th>profile</th><th>version</th><th>verdict</th>
<th class="num">req/s</th><th class="num">p95 ms</th><th class="num">errors</th><th>report</th></tr>
{% for r in runs %}<tr><td>{{ r.started_at or "" }}</td><td>{{ r.dag_id }}</td><td><code>{{ r.run_id }}</code>{% if r.is_baseline %} <b>baseline</b>{% endif %}</td>
<td>{{ r.target }}</td><td>{{ r.profile }}</td><td>{{ r.version or "" }}</td><td>{{ verdict(r)|safe }}</td>
<td class="num">{{ "%.1f"|format(r.rps) if r.rps is not none else "" }}</td><td class="num">{{ "%.1f"|format(r.p95_ms) if r.p95_ms is not none else "" }}</td>
<td class="num">{{ "%.2f %%"|format(r.error_rate * 100) if r.error_rate is not none else "" }}</td>
<td>{{ link(r)|safe }}</td></tr>
{% endfor %}</table>{% endif %}
</body></html>""")
_RUN_PAGE = _ENV.from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Performance report</title>""" + _STYLE + """</head><body>
<h1>Performance report of <code>{{ dag_id }}</code> run <code>{{ run_id }}</code></h1>
{% if not runs %}<p id="no-report">No report for this run yet: the <code>publish</code> task writes it at the end of the run,
whatever the verdict. Reload this tab when the run has finished.</p>
{% else %}<table id="runs"><tr><th>part</th><th>profile</th><th>verdict</th><th>reason</th><th>report</th></tr>
{% for r in runs %}<tr><td><code>{{ r.run_id }}</code></td><td>{{ r.profile }}</td><td>{{ verdict(r)|safe }}</td><td>{{ r.reason or "" }}</td>
<td>{{ link(r, "../../")|safe }}</td></tr>{% endfor %}</table>{% endif %}
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

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse, response_model=None)
    async def run_report(dag_id: str, run_id: str, request: Request) -> RedirectResponse | str:
        """The "Performance report" tab of a DAG run: its report, or the list of its parts (release gate)."""
        runs = await asyncio.to_thread(run_reports, base, dag_id, run_id)
        if len(runs) == 1 and runs[0]["local"]:
            return RedirectResponse(f"../../reports/{runs[0]['local']}/report.html", status_code=307)
        return _RUN_PAGE.render(dag_id=dag_id, run_id=run_id, runs=runs)

    @app.get("/reports/{dag_id}/{run}/{path:path}")
    async def report_file(dag_id: str, run: str, path: str) -> FileResponse:
        target = (base / dag_id / run / path).resolve()
        if not target.is_relative_to(base / dag_id / run) or not target.is_file():
            raise HTTPException(status_code=404, detail="no such report file")
        return FileResponse(target)

    return app
