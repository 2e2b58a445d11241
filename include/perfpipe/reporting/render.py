"""``render_report``: one run bundle in, one folder of report files out."""

from __future__ import annotations

import json
import os
from pathlib import Path

from include.perfpipe.reporting.html import render_html
from include.perfpipe.reporting.junit import render_junit
from include.perfpipe.reporting.markdown import render_markdown
from include.perfpipe.reporting.summary import build_summary

FILES = {"html": "report.html", "markdown": "summary.md", "json": "summary.json", "junit": "junit.xml"}


def _write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render_report(bundle: dict, out_dir: Path) -> dict[str, Path]:
    """Render the bundle into ``out_dir``; returns ``{"html", "markdown", "json", "junit"}`` paths."""
    from include.perfpipe.reporting.charts import load_charts, metric_charts, scenario_charts, trend_chart

    summary = build_summary(bundle)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = [*load_charts(bundle["loadtest"]), *metric_charts(bundle["loadtest"])] if bundle.get("loadtest") else []
    per_scenario = scenario_charts(bundle["loadtest"]) if bundle.get("loadtest") else {}
    contents = {
        "html": render_html(
            summary, charts, trend_chart(summary["history"], summary["regression"]), out_dir, per_scenario
        ),
        "markdown": render_markdown(summary),
        "json": json.dumps(summary, indent=2, allow_nan=False, default=str) + "\n",
        "junit": render_junit(summary),
    }
    paths = {}
    for kind, name in FILES.items():
        paths[kind] = out_dir / name
        _write(paths[kind], contents[kind])
    return paths
