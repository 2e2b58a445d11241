"""A sharded run's k6 summary export: ``--summary-export``'s shape for the whole run, so ``k6-summary.json``
says it once. Each figure is merged exactly from the shards' exports or computed over the merged frames:

- counter: ``count`` the shards' sum; ``rate`` that over the run's duration (as our req/s);
- rate: ``passes`` and ``fails`` the sums; ``value`` their share;
- gauge: ``min``/``max`` the shards' lowest/highest; ``vus`` and ``vus_max`` the shards' sums (each runs
  its segment of the VUs at the same time); a custom gauge's ``value`` the merged frames' latest;
- trend: ``min``/``max`` the shards' lowest/highest; ``med`` and ``p(N)`` from the merged histogram
  (``http_req_duration`` and its submetrics on scenario, name, group or class; ``group_duration``; carried
  custom trends);
  ``avg`` the shards' weighted by their sample counts where k6 gives them (a ``http_req_*`` trend by
  ``http_reqs``, ``iteration_duration`` by ``iterations``), else the merged frames'.

A figure neither gives exactly (a percentile of a timing phase the reader skipped, a submetric on
``expected_response`` where an endpoint had both outcomes) is left out and named in ``perfpipe.not_merged``;
thresholds carry the global verdicts; ``root_group``'s checks add up; each shard's own export stays under
``shards``.
"""

from __future__ import annotations

import math

from include.perfpipe.k6.figures import base_name, evaluate
from include.perfpipe.loadtest.result import LoadResult

ADDITIVE_GAUGES = {"vus", "vus_max"}
_GAUGE_STATS = {"value", "min", "max"}
_WEIGHTS = {"iteration_duration": "iterations"}  # a trend -> the counter with one count per sample


def merged_export(summaries: list[dict], merged: LoadResult, crossed: dict[str, dict[str, bool]]) -> dict:
    """One export for shards' ``summaries`` (k6's ``--summary-export`` each), with ``merged`` their merged
    result and ``crossed`` the global verdicts (``{metric key: {expression: crossed}}``)."""
    exports = [s.get("metrics") or {} for s in summaries]
    metrics, not_merged = {}, []
    for key in dict.fromkeys(k for export in exports for k in export):
        parts = [export[key] for export in exports if key in export]
        stats, missing = _merged_metric(key, parts, exports, merged)
        if key in crossed:
            stats["thresholds"] = crossed[key]
        metrics[key] = stats
        not_merged += [f"{key} {stat}" for stat in missing]
    return {
        "metrics": metrics,
        "root_group": merged_group([s["root_group"] for s in summaries if s.get("root_group")]),
        "perfpipe": {"shards": len(summaries), "not_merged": not_merged},
        "shards": summaries,
    }


def _merged_metric(key: str, parts: list[dict], exports: list[dict], merged: LoadResult) -> tuple[dict, list[str]]:
    """``(stats, the stats left out)`` of one metric key."""
    stats = [stat for stat in dict.fromkeys(s for part in parts for s in part) if stat != "thresholds"]
    if "passes" in stats:
        passes, fails = (sum(part.get(s, 0) for part in parts) for s in ("passes", "fails"))
        return {"passes": passes, "fails": fails, "value": passes / (passes + fails) if passes + fails else 0}, []
    if set(stats) == {"count", "rate"}:
        count = sum(part["count"] for part in parts)
        return {"count": count, "rate": count / merged.duration_s if merged.duration_s else 0}, []
    if set(stats) <= _GAUGE_STATS:
        return _merged_gauge(key, parts, merged)
    found, missing = {}, []
    for stat in stats:
        value = _merged_trend_stat(key, stat, parts, exports, merged)
        if math.isnan(value):
            missing.append(stat)
        else:
            found[stat] = value
    return found, missing


def _merged_gauge(key: str, parts: list[dict], merged: LoadResult) -> tuple[dict, list[str]]:
    if key in ADDITIVE_GAUGES:
        return {stat: sum(part.get(stat, 0) for part in parts) for stat in ("value", "min", "max")}, []
    found = {"min": min(part["min"] for part in parts), "max": max(part["max"] for part in parts)}
    value = evaluate(merged, key, "value")
    if math.isnan(value):
        return found, ["value"]
    return {"value": value, **found}, []


def _merged_trend_stat(key: str, stat: str, parts: list[dict], exports: list[dict], merged: LoadResult) -> float:
    """One trend figure, NaN when neither the shards' exports nor the merged frames give it exactly."""
    if any(stat not in part for part in parts):
        return math.nan
    if stat == "min":
        return min(part["min"] for part in parts)
    if stat == "max":
        return max(part["max"] for part in parts)
    if stat == "count":
        return sum(part["count"] for part in parts)
    if stat == "avg":
        counts = _sample_counts(key, exports)
        if counts is not None and len(counts) == len(parts) and sum(counts):
            return sum(part["avg"] * n for part, n in zip(parts, counts, strict=True)) / sum(counts)
        return evaluate(merged, key, "avg")
    if stat == "med":
        return evaluate(merged, key, "med")
    if stat.startswith("p(") and stat.endswith(")"):
        return evaluate(merged, key, stat, stat[2:-1])
    return math.nan


def _sample_counts(key: str, exports: list[dict]) -> list[float] | None:
    """Each shard's sample count of a trend, where a counter of k6's says it; None otherwise."""
    name = base_name(key)
    if name != key:  # a submetric: k6 exports no count of its samples
        return None
    counter = "http_reqs" if name.startswith("http_req_") else _WEIGHTS.get(name)
    if counter is None:
        return None
    return [export[counter]["count"] for export in exports if name in export and counter in export]


def merged_group(groups: list[dict]) -> dict:
    """k6's ``root_group`` of several shards: the same groups and checks, their passes and fails added."""
    if not groups:
        return {}
    into = {key: value for key, value in groups[0].items() if key not in ("groups", "checks")}
    names = dict.fromkeys(name for group in groups for name in group.get("groups") or {})
    into["groups"] = {
        name: merged_group([g["groups"][name] for g in groups if name in (g.get("groups") or {})]) for name in names
    }
    checks: dict[str, dict] = {}
    for group in groups:
        for name, check in (group.get("checks") or {}).items():
            if name in checks:
                checks[name] = {
                    **checks[name],
                    "passes": checks[name]["passes"] + check["passes"],
                    "fails": checks[name]["fails"] + check["fails"],
                }
            else:
                checks[name] = dict(check)
    into["checks"] = checks
    return into
