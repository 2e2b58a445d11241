"""k6's own end-of-test summary of a k6 run, for the report beside our tables (docs/k6.md)."""

from __future__ import annotations

from include.perfpipe.k6.summary import shard_parts, summary_document
from include.perfpipe.loadtest.result import LoadResult

_ORDER = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count", "rate", "value", "passes", "fails")


def k6_view(load: dict | None) -> list[dict]:
    """One entry per k6 process of the run: ``{"title", "exit_code", "metrics": [{"name", "stats", "thresholds"}]}``,
    metrics sorted by name, as k6's summary export gives them; with several shards first the whole run's
    (``k6-summary.json``: merged exactly, judged globally); ``[]`` for a run of our engine."""
    shards = shard_parts(load or {})
    view = []
    if len(shards) > 1:
        whole = summary_document(LoadResult.from_dict(load))
        left_out = whole["perfpipe"]["not_merged"]
        title = f"k6, the whole run: {len(shards)} shards merged exactly"
        title += f" ({len(left_out)} figures not computable exactly left out)" if left_out else ""
        metrics = whole["metrics"]
        view.append(
            {
                "title": title,
                "exit_code": ", ".join(str(part.get("exit_code")) for _, part in shards),
                "metrics": [_metric(name, stats) for name, stats in sorted(metrics.items())],
            }
        )
    for index, part in shards:
        title = "k6" if len(shards) == 1 else f"k6 shard {index + 1} of {len(shards)} (its execution segment only)"
        metrics = (part.get("summary") or {}).get("metrics") or {}
        view.append(
            {
                "title": title,
                "exit_code": part.get("exit_code"),
                "metrics": [_metric(name, stats) for name, stats in sorted(metrics.items())],
            }
        )
    return view


def _metric(name: str, stats: dict) -> dict:
    figures = [(key, stats[key]) for key in _ORDER if key in stats]
    figures += [(key, value) for key, value in stats.items() if key not in _ORDER and key != "thresholds"]
    marks = stats.get("thresholds") or {}
    return {
        "name": name,
        "stats": ", ".join(f"{key}={_figure(value)}" for key, value in figures),
        "thresholds": [{"threshold": expression, "crossed": bool(crossed)} for expression, crossed in marks.items()],
    }


def _figure(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
