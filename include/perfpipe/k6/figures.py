"""k6's figures of a metric (``avg``, ``med``, ``p(95)``, ``count``, ``rate``, ``value`` ...) computed over a
merged result's frames: what judges a sharded run's thresholds once and fills its merged summary export."""

from __future__ import annotations

import math
import re

from include.perfpipe.custom_metrics import SCALE
from include.perfpipe.k6.samples import group_name
from include.perfpipe.loadtest.result import LoadResult
from include.perfpipe.metrics import EndpointTotals, new_histogram

_SUBMETRIC = re.compile(r"^([^{]+)(?:\{(.*)\})?$")
_ENDPOINT_TAGS = {"scenario", "name", "group", "class"}  # what a request's row in our frames is split by


def base_name(key: str) -> str:
    """The metric of a key: ``http_req_duration{name:home}`` -> ``http_req_duration``."""
    return _SUBMETRIC.match(key).group(1).strip()


def evaluate(result: LoadResult, key: str, aggregation: str, percentile: str | None = None) -> float:
    """The value of ``aggregation`` (``avg``, ``p(95)`` with ``percentile`` ``"95"``, ...) of metric ``key``
    (``name{tag:value,...}``) over a merged result, NaN when our frames cannot say it exactly."""
    name, selector = _SUBMETRIC.match(key).groups()
    tags = dict(pair.split(":", 1) for pair in selector.split(",")) if selector else {}
    tags = {k.strip(): v.strip().strip("'\"") for k, v in tags.items()}
    if name in ("http_req_duration", "http_req_failed", "http_reqs"):
        expected = tags.pop("expected_response", None)
        if set(tags) - _ENDPOINT_TAGS:
            return math.nan
        chosen = [t for t in result.metrics.endpoints.values() if _matches(t, tags)]
        if expected is not None:
            chosen = _of_outcome(chosen, expected == "true")
            if chosen is None:
                return math.nan
        return _request_stat(name, chosen, aggregation, percentile, result.duration_s)
    journey = result.journey
    if name == "group_duration" and journey is not None and not set(tags) - {"group"}:
        group = group_name(tags["group"]) if "group" in tags else None
        chosen = [t for t in journey.groups.endpoints.values() if group is None or t.name == group]
        return _request_stat(name, chosen, aggregation, percentile, result.duration_s)  # as requests: seconds
    if tags:
        return math.nan
    if name == "checks" and aggregation == "rate" and journey is not None:
        passed = sum(p for p, _ in journey.checks.counts.values())
        total = sum(p + f for p, f in journey.checks.counts.values())
        return passed / total if total else math.nan
    if name == "iterations" and aggregation in ("count", "rate"):
        count = sum(result.metrics.iterations.values())
        return count if aggregation == "count" else count / result.duration_s
    if journey is None or name not in journey.metrics.metrics:
        return math.nan
    return _custom_stat(journey.metrics.metrics[name], aggregation, percentile, result.duration_s)


def _of_outcome(chosen: list[EndpointTotals], expected: bool) -> list[EndpointTotals] | None:
    """The endpoints whose requests all had ``expected_response`` ``expected`` (an endpoint with none such
    drops out); None when one had both, since an endpoint's histogram holds both outcomes. k6 always reports
    ``http_req_duration{expected_response:true}``: exact over the merge for a run without errors."""
    kept = []
    for totals in chosen:
        errors = totals.errors if expected else totals.count - totals.errors  # requests of the other outcome
        if errors == 0:
            kept.append(totals)
        elif errors != totals.count:
            return None
    return kept


def _matches(totals: EndpointTotals, tags: dict[str, str]) -> bool:
    own = {"scenario": totals.scenario, "name": totals.name, "group": totals.group, "class": totals.class_name}
    return all(own[k] == v for k, v in tags.items())


def _request_stat(name: str, chosen: list[EndpointTotals], aggregation: str, percentile, duration_s: float) -> float:
    count = sum(t.count for t in chosen)
    if name == "http_reqs":
        return {"count": count, "rate": count / duration_s if duration_s else math.nan}.get(aggregation, math.nan)
    if name == "http_req_failed":
        return sum(t.errors for t in chosen) / count if aggregation == "rate" and count else math.nan
    if not count or aggregation == "count":
        return count if count else math.nan
    hist = new_histogram()
    for t in chosen:
        hist.add(t.hist)
    return _trend(hist, aggregation, percentile) / 1000.0  # microseconds -> ms


def _custom_stat(totals, aggregation: str, percentile, duration_s: float) -> float:
    if not totals.samples:
        return math.nan
    if totals.kind == "counter":
        return {"count": totals.total, "rate": totals.total / duration_s}.get(aggregation, math.nan)
    if totals.kind == "rate":
        return totals.total / totals.samples if aggregation == "rate" else math.nan
    if totals.kind == "gauge":
        return {"value": totals.last, "min": totals.low, "max": totals.high}.get(aggregation, math.nan)
    if aggregation in ("min", "max", "avg", "count"):
        return {"min": totals.low, "max": totals.high, "avg": totals.total / totals.samples, "count": totals.samples}[
            aggregation
        ]
    return _trend(totals.hist, aggregation, percentile) / SCALE


def _trend(hist, aggregation: str, percentile) -> float:
    if aggregation == "med":
        return hist.get_value_at_percentile(50.0)
    if percentile is not None:
        return hist.get_value_at_percentile(float(percentile))
    return {"avg": hist.get_mean_value(), "min": hist.get_min_value(), "max": hist.get_max_value()}.get(
        aggregation, math.nan
    )
