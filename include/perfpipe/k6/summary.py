"""k6's own verdict beside ours: its thresholds, judged once over the whole run.

One shard: k6 judged the whole run itself; its ``--summary-export`` says which thresholds were crossed.
Several shards: each k6 judged only its segment, so every threshold is judged again here over the exactly
merged result (``figures.evaluate``); an expression this cannot evaluate from our frames (a submetric on
a tag our frames do not split by, e.g. ``{method:GET}``) keeps the shards' verdict: crossed if
any shard crossed it, and says so. Either way the rows join validation's results as suite ``k6`` and a
crossed one fails the run.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from include.perfpipe.k6.engine import SHARD_KEY
from include.perfpipe.k6.export import merged_export
from include.perfpipe.k6.figures import evaluate
from include.perfpipe.loadtest.result import LoadResult
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
            observed = evaluate(merged, key, parsed.group(1), parsed.group(2))
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
    writes ``k6-summary.json`` (k6's summary export; with several shards one merged in its shape,
    ``export.merged_export``) and saves ``validation.json`` again."""
    shards = shard_parts(load.extra)
    summaries = [part["summary"] for _, part in shards]
    rows = k6_rows(_thresholds(load), summaries, load)
    validation = judge(validation, rows)
    failed = [(index + 1, part["exit_code"]) for index, part in shards if part["exit_code"] not in JUDGED_EXIT_CODES]
    if failed:
        validation.verdict = Verdict.ERROR
        validation.reason = "k6 failed: " + ", ".join(f"shard {i} exited with code {code}" for i, code in failed)
    (Path(out_dir) / SUMMARY_FILE).write_text(json.dumps(summary_document(load, rows), indent=2) + "\n")
    validation.save(out_dir)
    return validation


def shard_parts(extra: dict) -> list[tuple[int, dict]]:
    """``(index, {"exit_code", "summary"})`` of each k6 shard in a result's ``extra``, in shard order."""
    return sorted((int(key[len(SHARD_KEY) :]), part) for key, part in extra.items() if key.startswith(SHARD_KEY))


def summary_document(load: LoadResult, rows: list[dict] | None = None) -> dict:
    """``k6-summary.json``: one shard's export as k6 wrote it; several shards' merged into one for the whole
    run (``export.merged_export``), with the global verdicts (``rows``, judged here when not given)."""
    summaries = [part["summary"] for _, part in shard_parts(load.extra)]
    if len(summaries) == 1:
        return summaries[0]
    thresholds = _thresholds(load)
    rows = rows if rows is not None else k6_rows(thresholds, summaries, load)
    crossed: dict[str, dict[str, bool]] = {}
    for (key, expression), row in zip(expressions(thresholds), rows, strict=True):
        crossed.setdefault(key, {})[expression] = not row["success"]  # k6 marks a crossed threshold true
    return merged_export(summaries, load, crossed)


def _thresholds(load: LoadResult) -> dict:
    return ((load.spec.get("k6") or {}).get("options") or {}).get("thresholds") or {}


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
