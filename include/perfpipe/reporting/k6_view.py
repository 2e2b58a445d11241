"""k6's own end-of-test summary of a k6 run, for the report beside our tables (docs/k6.md)."""

from __future__ import annotations

from include.perfpipe.k6.engine import SHARD_KEY

_ORDER = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count", "rate", "value", "passes", "fails")


def k6_view(load: dict | None) -> list[dict]:
    """One entry per k6 process of the run: ``{"title", "exit_code", "metrics": [{"name", "stats", "thresholds"}]}``,
    metrics sorted by name, as k6's summary export gives them; ``[]`` for a run of our engine."""
    shards = sorted(
        (int(key[len(SHARD_KEY) :]), part) for key, part in (load or {}).items() if key.startswith(SHARD_KEY)
    )
    view = []
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
