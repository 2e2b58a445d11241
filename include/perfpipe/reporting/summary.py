"""The run summary: every number the report shows, as one JSON-able dict (``summary.json``, docs/report-schema.md).

Built once from the run bundle; the HTML, Markdown and JUnit renderers only read it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from include.perfpipe.database.digest import digest
from include.perfpipe.database.tuning import tuning_view
from include.perfpipe.errors import ConfigError
from include.perfpipe.metric_names import PERCENTILES
from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.reporting.journey_view import journey_view
from include.perfpipe.reporting.k6_view import k6_view
from include.perfpipe.reporting.scenario_view import scenario_sections
from include.perfpipe.validation.verdict import run_verdict
from include.perfpipe.vocabulary import OPERATORS, holds

SCHEMA_VERSION = 1
SEVERITIES = ("critical", "warning", "info")
CELL_METRICS = ("rps", "error_rate", *PERCENTILES, "max_ms")
HEADLINE = ("requests", "errors", "error_rate", "rps", "p50_ms", "p95_ms", "p99_ms")


def _plain(value: Any) -> Any:
    """JSON-safe scalar: numpy to Python, NaN to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _section(bundle: dict, key: str) -> dict | None:
    part = bundle.get(key)
    if part is not None and not isinstance(part, dict):
        raise ConfigError(f"bundle.{key} must be a dict or null, got {type(part).__name__}")
    return part


def regression_count(regression: dict | None) -> int:
    """Significant regressions against the baseline (0 without a comparison)."""
    regression = regression or {}
    if not (regression.get("gate") or {}).get("regressed"):
        return 0
    return int((regression.get("counts") or {}).get("regression") or 1)


def headline(verdict: str, regressions: int) -> str:
    """The verdict as the report, the list, summary.md and JUnit show it: ``PASS · 2 regressions vs baseline``."""
    if not regressions:
        return verdict.upper()
    return f"{verdict.upper()} · {regressions} regression{'s' if regressions != 1 else ''} vs baseline"


def _stats_rows(result: dict, where: str) -> list[dict]:
    for key in ("metrics", "duration_s"):
        if key not in result:
            raise ConfigError(f"{where} is missing field {key!r}")
    frame = MetricsRecorder.from_dict(result["metrics"]).stats_frame(float(result["duration_s"]))
    rows = []
    for record in frame.to_dict("records"):
        row = {k: _plain(v) for k, v in record.items()}
        row["status_counts"] = json.loads(row["status_counts"])
        rows.append(row)
    return rows


def _cells(row: dict, checks: list[dict]) -> dict:
    """Per metric: the threshold checks that apply to this stats row, and pass/fail."""
    cells = {}
    for metric in CELL_METRICS:
        if row["scope"] == "endpoint":
            own = [c for c in checks if c["metric"] == metric and c.get("endpoint") == row["name"]]
            if own:
                applied = own
            else:  # judge the endpoint against its class's whole-run limit (advisory)
                applied = []
                for c in checks:
                    if (
                        c["metric"] == metric
                        and c.get("class_name") == row["class_name"]
                        and not c.get("endpoint")
                        and c.get("operator") in OPERATORS
                        and c.get("threshold") is not None
                        and row.get(metric) is not None
                        and c.get("window") in (None, "whole")
                    ):
                        ok = holds(c["operator"], row[metric], c["threshold"])
                        applied.append({**c, "observed": row[metric], "success": ok, "advisory": True})
        else:
            applied = [
                c
                for c in checks
                if c["metric"] == metric and c.get("class_name") == row["class_name"] and not c.get("endpoint")
            ]
        if applied:
            cells[metric] = {
                "status": "pass" if all(c["success"] for c in applied) else "fail",
                "limits": sorted(
                    {f"{c.get('operator') or ''} {c.get('threshold')} ({c.get('window')})" for c in applied}
                ),
                "advisory": all(c.get("advisory") for c in applied),
            }
    return cells


def _latency_section(result: dict, where: str, checks: list[dict]) -> dict:
    """Run facts, headline totals and the class/endpoint rows (with threshold cells) of a LoadResult."""
    rows = _stats_rows(result, where)
    for row in rows:
        row["cells"] = _cells(row, checks)
    total = next((r for r in rows if r["scope"] == "total"), None)
    return {
        "run": {
            "duration_s": result.get("duration_s"),
            "started_at": result.get("started_at"),
            "ended_at": result.get("ended_at"),
            "aborted": bool(result.get("aborted")),
            "abort_reason": result.get("abort_reason"),
            "health": result.get("health") or {},
            "stages": result.get("stages") or [],
            "shards": result.get("shards") or [],
        },
        "totals": _headline(total) if total else None,
        "total": total,
        "classes": [r for r in rows if r["scope"] == "class"],
        "endpoints": [r for r in rows if r["scope"] == "endpoint"],
    }


def _benchmark(bench: dict | None, checks: list[dict]) -> dict | None:
    if not bench:
        return None
    section = _latency_section(bench, "bundle.database.benchmark", checks)
    return {
        "duration_s": bench.get("duration_s"),
        "totals": section["totals"],
        "queries": section["endpoints"],
        "classes": section["classes"],
    }


def _headline(row: dict) -> dict:
    return {
        "requests": row["count"],
        "errors": row["errors"],
        "error_rate": row["error_rate"],
        "rps": row["rps"],
        "p50_ms": row["p50_ms"],
        "p95_ms": row["p95_ms"],
        "p99_ms": row["p99_ms"],
        "max_ms": row["max_ms"],
    }


def _checks(validation: dict | None) -> list[dict]:
    results = (validation or {}).get("results") or []
    for i, r in enumerate(results):
        if not isinstance(r, dict) or not isinstance(r.get("success"), bool):
            raise ConfigError(f"validation.results[{i}].success must be true or false, got {r!r}")
    return [{k: _plain(v) for k, v in r.items()} for r in results]


def _database(database: dict | None) -> dict | None:
    if database is None:
        return None
    findings = database.get("findings") or []
    grouped: dict[str, list] = {s: [] for s in SEVERITIES}
    for i, f in enumerate(findings):
        if f.get("severity") not in grouped:
            raise ConfigError(f"database.findings[{i}].severity must be one of {SEVERITIES}, got {f.get('severity')!r}")
        grouped[f["severity"]].append(f)
    return {
        "counts": {s: len(v) for s, v in grouped.items()},
        "digest": digest(findings),
        "findings": grouped,
        "maintenance": database.get("maintenance") or [],
        "statements_delta": database.get("statements_delta") or [],
        "table_stats": database.get("table_stats") or [],
        "tuning": tuning_view(database.get("tuning")),
    }


def _delta_pct(current: Any, base: Any) -> float | None:
    if current is None or base is None or base == 0:
        return None
    return round((current - base) / base * 100.0, 2)


def _baseline(baseline: dict | None, totals: dict | None, duration_s: float | None) -> dict | None:
    """Headline metrics against the baseline; counts only between runs of the same duration."""
    from include.perfpipe.regression.baseline import comparable

    if not baseline:
        return None
    current = totals or {}
    base_duration = _plain(baseline.get("duration_s"))
    metrics = {}
    for m in HEADLINE:
        same_basis = comparable(m, base_duration, duration_s)
        metrics[m] = {
            "baseline": _plain(baseline.get(m)),
            "current": current.get(m),
            "comparable": same_basis,
            "delta_pct": _delta_pct(current.get(m), _plain(baseline.get(m))) if same_basis else None,
        }
    info = {
        k: _plain(baseline.get(k))
        for k in ("dag_id", "run_id", "version", "started_at", "verdict", "is_baseline", "report_url", "duration_s")
    }
    return {**{k: str(v) if k == "started_at" and v is not None else v for k, v in info.items()}, "metrics": metrics}


def _history(history: list | None, run: dict, verdict: str, totals: dict | None) -> list[dict]:
    points = []
    for h in history or []:
        if h.get("run_id") == run["run_id"] and h.get("dag_id") == run["dag_id"]:
            continue
        points.append(
            {
                "run_id": h.get("run_id"),
                "started_at": None if h.get("started_at") is None else str(h.get("started_at")),
                "version": h.get("version"),
                "verdict": h.get("verdict"),
                **{m: _plain(h.get(m)) for m in HEADLINE},
            }
        )
    if totals:
        points.append(
            {
                "run_id": run["run_id"],
                "started_at": run.get("started_at"),
                "version": run.get("version"),
                "verdict": verdict,
                **{m: totals.get(m) for m in HEADLINE},
            }
        )
    return points


def build_summary(bundle: dict) -> dict:
    """Everything the report shows, JSON-able. Bad input raises ConfigError naming the field."""
    if not isinstance(bundle, dict) or not isinstance(bundle.get("run"), dict):
        raise ConfigError(
            f"bundle.run must be a dict, got {type(bundle.get('run') if isinstance(bundle, dict) else bundle).__name__}"
        )
    run = {
        k: bundle["run"].get(k)
        for k in ("dag_id", "run_id", "profile", "target", "version", "started_at", "ended_at", "report_url")
    }
    for key in ("dag_id", "run_id"):
        if not isinstance(run[key], str) or not run[key]:
            raise ConfigError(f"bundle.run.{key} must be a non-empty string, got {run[key]!r}")
    verdict, reason = run_verdict(bundle)
    validation = _section(bundle, "validation")
    checks = _checks(validation)
    load = _section(bundle, "loadtest")
    database = _section(bundle, "database")
    bench = (database or {}).get("benchmark")
    loadtest = _latency_section(load, "bundle.loadtest", checks) if load else None
    totals = loadtest["totals"] if loadtest else None
    regressions = regression_count(bundle.get("regression"))
    return {
        "schema_version": SCHEMA_VERSION,
        "run": run,
        "verdict": {
            "verdict": verdict,
            "reason": reason,
            "regressions": regressions,
            "headline": headline(verdict, regressions),
            "failed_task": _section(bundle, "failure"),
        },
        "loadtest": loadtest["run"] if loadtest else None,
        "totals": totals,
        "total": loadtest["total"] if loadtest else None,
        "classes": loadtest["classes"] if loadtest else [],
        "endpoints": loadtest["endpoints"] if loadtest else [],
        "scenarios": scenario_sections(load),
        "journey": journey_view(load, checks),
        "thresholds": checks,
        "thresholds_failed": sum(1 for c in checks if not c["success"]),
        "k6": k6_view(load),
        "validation": None
        if validation is None
        else {
            "verdict": validation.get("verdict"),
            "reason": validation.get("reason"),
            "data_docs": validation.get("data_docs"),
            "notes": validation.get("notes") or [],
        },
        "database": _database(database),
        "benchmark": _benchmark(bench, checks),
        "baseline": _baseline(bundle.get("baseline"), totals, load.get("duration_s") if load else None),
        "baseline_note": bundle.get("baseline_note"),
        "history": _history(bundle.get("history"), run, verdict, totals),
        "regression": bundle.get("regression"),
    }
