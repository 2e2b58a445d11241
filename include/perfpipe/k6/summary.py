"""k6's own verdict beside ours: its thresholds, judged once over the whole run.

One shard: k6 judged the whole run itself; its ``--summary-export`` says which thresholds were crossed.
Several shards: each k6 judged only its segment, so every threshold is judged again here over the exactly
merged result (``global_thresholds``); an expression this cannot evaluate from our frames (a submetric on
a tag our frames do not split by, e.g. ``{expected_response:true}``) keeps the shards' verdict: crossed if
any shard crossed it, and says so. Either way the rows join validation's results as suite ``k6`` and a
crossed one fails the run.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from include.perfpipe.custom_metrics import SCALE
from include.perfpipe.k6.engine import SHARD_KEY
from include.perfpipe.loadtest.result import LoadResult
from include.perfpipe.metrics import EndpointTotals, new_histogram
from include.perfpipe.validation.result import ValidationResult
from include.perfpipe.validation.verdict import Verdict
from include.perfpipe.vocabulary import holds

SUITE = "k6"
SUMMARY_FILE = "k6-summary.json"
# k6 exit codes that leave a result to judge: 0, thresholds crossed, interrupted (SIGINT), test.abort()
JUDGED_EXIT_CODES = {0, 99, 105, 108}
_EXPRESSION = re.compile(
    r"^\s*(avg|min|max|med|count|rate|value|p\(\s*([\d.]+)\s*\))\s*(<=|>=|<|>|==|!=)\s*([-\d.eE+]+)\s*$"
)
_SUBMETRIC = re.compile(r"^([^{]+)(?:\{(.*)\})?$")
_ENDPOINT_TAGS = {"scenario", "name", "group", "class"}  # what a request's row in our frames is split by


def expressions(thresholds: dict) -> list[tuple[str, str]]:
    """``(metric key, expression)`` of every threshold in k6's options (strings or ``{threshold: ...}``)."""
    found = []
    for key, items in (thresholds or {}).items():
        for item in items if isinstance(items, list) else [items]:
            found.append((key, item["threshold"] if isinstance(item, dict) else str(item)))
    return found


def shard_crossed(summary: dict, key: str, expression: str) -> bool | None:
    """Whether one k6 summary export marks ``key: expression`` crossed (it records ``true`` for crossed)."""
    marks = ((summary.get("metrics") or {}).get(key) or {}).get("thresholds") or {}
    return marks.get(expression)


def k6_rows(thresholds: dict, summaries: list[dict], merged: LoadResult | None) -> list[dict]:
    """Validation result rows (suite ``k6``) for k6's thresholds: from k6 itself with one shard, judged over
    ``merged`` with several."""
    rows = []
    for key, expression in expressions(thresholds):
        parsed = _EXPRESSION.match(expression)
        observed = math.nan
        if len(summaries) > 1 and merged is not None and parsed:
            observed = evaluate(merged, key, parsed)
        if observed == observed:
            success, how = _holds(parsed, observed), "global"
        else:
            marks = [shard_crossed(s, key, expression) for s in summaries]
            success = not any(marks)
            how = "k6" if len(summaries) == 1 else "per shard (not computable from the merged frames)"
            if len(summaries) == 1 and parsed:
                observed = _exported(summaries[0], key, parsed.group(1))
        op, limit = (parsed.group(3), float(parsed.group(4))) if parsed else ("", math.nan)
        rows.append(
            {
                "suite": SUITE,
                "window": "whole",
                "metric": f"{key} {parsed.group(1) if parsed else expression}",
                "class_name": how,
                "operator": op,
                "threshold": limit,
                "observed": observed,
                "success": bool(success),
            }
        )
    return rows


def judge(validation: ValidationResult, rows: list[dict]) -> ValidationResult:
    """``validation`` with k6's threshold rows beside our suites: a crossed one fails a passing run."""
    if not rows:
        return validation
    frame = pd.DataFrame(rows, columns=validation.results.columns)
    validation.results = pd.concat([validation.results, frame], ignore_index=True) if len(validation.results) else frame
    crossed = [r for r in rows if not r["success"]]
    if crossed and validation.verdict == Verdict.PASS:
        validation.verdict = Verdict.FAIL
        validation.reason = "k6 thresholds crossed: " + "; ".join(
            f"{r['metric']} {r['operator']} {r['threshold']:g} (observed {r['observed']:.4g})" for r in crossed
        )
    elif not crossed and validation.verdict == Verdict.PASS:
        validation.reason += f"; all {len(rows)} k6 thresholds met"
    return validation


def judge_k6(validation: ValidationResult, load: LoadResult, out_dir: Path) -> ValidationResult:
    """``validation`` with k6's thresholds judged (``k6_rows``) and an error for a k6 that failed otherwise;
    writes ``k6-summary.json`` (k6's summary export; with several shards ``{"shards": [...]}``) and saves
    ``validation.json`` again."""
    shards = sorted((int(key[len(SHARD_KEY) :]), part) for key, part in load.extra.items() if key.startswith(SHARD_KEY))
    summaries = [part["summary"] for _, part in shards]
    thresholds = ((load.spec.get("k6") or {}).get("options") or {}).get("thresholds") or {}
    validation = judge(validation, k6_rows(thresholds, summaries, load))
    failed = [(index + 1, part["exit_code"]) for index, part in shards if part["exit_code"] not in JUDGED_EXIT_CODES]
    if failed:
        validation.verdict = Verdict.ERROR
        validation.reason = "k6 failed: " + ", ".join(f"shard {i} exited with code {code}" for i, code in failed)
    out_dir = Path(out_dir)
    document = summaries[0] if len(summaries) == 1 else {"shards": summaries}
    (out_dir / SUMMARY_FILE).write_text(json.dumps(document, indent=2) + "\n")
    validation.save(out_dir)
    return validation


def evaluate(result: LoadResult, key: str, parsed: re.Match) -> float:
    """The value of ``aggregation`` of metric ``key`` (``name{tag:value,...}``) over a merged result, NaN when
    our frames cannot say it exactly."""
    name, selector = _SUBMETRIC.match(key).groups()
    tags = dict(pair.split(":", 1) for pair in selector.split(",")) if selector else {}
    tags = {k.strip(): v.strip().strip("'\"") for k, v in tags.items()}
    aggregation, percentile = parsed.group(1), parsed.group(2)
    if name in ("http_req_duration", "http_req_failed", "http_reqs"):
        if set(tags) - _ENDPOINT_TAGS:
            return math.nan
        chosen = [t for t in result.metrics.endpoints.values() if _matches(t, tags)]
        return _request_stat(name, chosen, aggregation, percentile, result.duration_s)
    if tags:
        return math.nan
    journey = result.journey
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


def _holds(parsed: re.Match, observed: float) -> bool:
    op, limit = parsed.group(3), float(parsed.group(4))
    if op == "==":
        return observed == limit
    if op == "!=":
        return observed != limit
    return holds(op, observed, limit)


def _exported(summary: dict, key: str, aggregation: str) -> float:
    """What k6's summary export says of ``aggregation`` (a rate's value is under ``value``)."""
    stats = (summary.get("metrics") or {}).get(key) or {}
    value = stats.get(aggregation, stats.get("value") if aggregation == "rate" else None)
    return float(value) if isinstance(value, int | float) else math.nan
