"""``report.html``: one self-contained page (plotly.js inlined once, no CDN), autoescaped Jinja2."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

import jinja2

_SAFE_SCHEMES = {"http", "https", "file", "s3", "gs"}


def safe_href(value: object) -> str:
    """A link target that can never run script: known schemes or relative paths, else ``#``."""
    text = str(value or "").strip()
    scheme = urlsplit(text).scheme.lower()
    if scheme and scheme not in _SAFE_SCHEMES:
        return "#"
    return text


def data_docs_href(data_docs: str | None, out_dir: Path) -> str | None:
    """Relative link when the Data Docs sit inside the report folder (they travel with it), else a URL."""
    if not data_docs:
        return None
    if urlsplit(data_docs).scheme in _SAFE_SCHEMES:
        return data_docs
    path = Path(data_docs)
    if not path.is_absolute():
        return quote(path.as_posix())
    try:
        return quote(path.relative_to(out_dir.resolve()).as_posix())
    except ValueError:
        return path.as_uri()


def report_href(other: object, own: object) -> str:
    """Link from this report to another (the baseline's): relative when both sit in the same reports tree
    (``<root>/<dag_id>/<run>/report.html``), so it works offline and inside the Airflow UI alike."""
    href, mine = urlsplit(str(other or "")), urlsplit(str(own or ""))
    theirs, ours = PurePosixPath(href.path), PurePosixPath(mine.path)
    if (
        (href.scheme, href.netloc) == (mine.scheme, mine.netloc)
        and len(theirs.parts) > 3
        and theirs.parents[2] == ours.parents[2]
    ):
        return quote(f"../../{theirs.parts[-3]}/{theirs.parts[-2]}/{theirs.name}")
    return safe_href(other)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("include.perfpipe.reporting", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_href"] = safe_href
    env.filters["report_href"] = report_href
    return env


def render_html(
    summary: dict,
    load_charts: list[str],
    trend_chart: str | None,
    out_dir: Path,
    scenario_charts: dict[str, list[str]] | None = None,
) -> str:
    from plotly.offline import get_plotlyjs

    from include.perfpipe.reporting.statements import statements_view

    template = _environment().get_template("report.html.j2")
    return template.render(
        s=summary,
        load_charts=load_charts,
        scenario_charts=scenario_charts or {},
        trend_chart=trend_chart,
        statements=statements_view((summary.get("database") or {}).get("statements_delta") or []),
        plotly_js=get_plotlyjs().replace("</script", "<\\/script"),
        data_docs_href=data_docs_href((summary.get("validation") or {}).get("data_docs"), out_dir),
    )
