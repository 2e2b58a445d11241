"""Turn a stage's result dict (the contracts in docs/architecture.md) into table rows.

Pure functions, no database: ``stage_rows`` returns ``({table: [row, ...]}, summary)``.
Bad input raises ``ValueError`` naming the field and the value.
"""

from __future__ import annotations

import math
from typing import Any

from include.perfpipe.custom_metrics import METRIC_COLUMNS, CustomMetrics
from include.perfpipe.metrics import STATS_COLUMNS, TIMESERIES_COLUMNS, MetricsRecorder

SEVERITIES = ("critical", "warning", "info")
DATA_TABLES = (
    "endpoint_stats",
    "query_benchmark_stats",
    "timeseries",
    "db_findings",
    "db_maintenance",
    "validation_results",
    "custom_metrics",
)


def _number(value: Any, field: str) -> float | None:
    """A float, or None for missing/NaN; anything else that is not a number is an error."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    return None if math.isnan(number) else number


def _require(part: dict, key: str, stage: str) -> Any:
    if not isinstance(part, dict):
        raise ValueError(f"{stage} result must be a dict, got {type(part).__name__}")
    if key not in part:
        raise ValueError(f"{stage} result is missing field {key!r}")
    return part[key]


def latency_rows(result: dict, stage: str) -> tuple[list[dict], list[dict]]:
    """Stats and time-series rows of a LoadResult-shaped dict."""
    metrics = _require(result, "metrics", stage)
    duration = _number(_require(result, "duration_s", stage), f"{stage}.duration_s")
    if duration is None or duration < 0:
        raise ValueError(f"{stage}.duration_s must be a non-negative number, got {result['duration_s']!r}")
    try:
        recorder = MetricsRecorder.from_dict(metrics)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{stage}.metrics is not a MetricsRecorder dict: {exc!r}") from None
    stats = recorder.stats_frame(duration).to_dict("records")
    series = recorder.timeseries_frame().to_dict("records")
    return [_clean(r, STATS_COLUMNS) for r in stats], [_clean(r, TIMESERIES_COLUMNS) for r in series]


def _clean(row: dict, columns: list[str]) -> dict:
    out = {}
    for col in columns:
        value = row[col]
        if isinstance(value, float) and math.isnan(value):
            value = None
        elif hasattr(value, "item"):  # numpy scalar
            value = value.item()
        out[col] = value
    return out


def metric_rows(result: dict, stage: str) -> list[dict]:
    """The ``metrics_frame`` rows of a LoadResult-shaped dict's custom metrics (none without a journey)."""
    journey = result.get("journey") or {}
    try:
        metrics = CustomMetrics.from_dict(journey.get("metrics"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{stage}.journey.metrics is not a CustomMetrics dict: {exc!r}") from None
    return [_clean(r, METRIC_COLUMNS) for r in metrics.frame(float(result["duration_s"])).to_dict("records")]


def finding_rows(findings: list) -> list[dict]:
    rows = []
    for i, f in enumerate(findings or []):
        severity = _require(f, "severity", f"database.findings[{i}]")
        if severity not in SEVERITIES:
            raise ValueError(f"database.findings[{i}].severity must be one of {SEVERITIES}, got {severity!r}")
        rows.append(
            {
                "position": i,
                "check_name": _require(f, "check", f"database.findings[{i}]"),
                "severity": severity,
                "object": f.get("object"),
                "evidence": f.get("evidence"),
                "recommendation": f.get("recommendation"),
                "sql": f.get("sql"),
            }
        )
    return rows


def maintenance_rows(items: list) -> list[dict]:
    return [
        {
            "position": i,
            "table_name": m.get("table"),
            "action": m.get("action"),
            "status": m.get("status"),
            "seconds": _number(m.get("seconds"), f"database.maintenance[{i}].seconds"),
            "message": m.get("message"),
        }
        for i, m in enumerate(items or [])
    ]


def validation_rows(results: list) -> list[dict]:
    rows = []
    for i, r in enumerate(results or []):
        where = f"validation.results[{i}]"
        success = _require(r, "success", where)
        if not isinstance(success, bool):
            raise ValueError(f"{where}.success must be true or false, got {success!r}")
        rows.append(
            {
                "position": i,
                "suite": r.get("suite"),
                "window_name": r.get("window"),
                "metric": r.get("metric"),
                "class_name": r.get("class_name"),
                "operator": r.get("operator"),
                "threshold": _number(r.get("threshold"), f"{where}.threshold"),
                "observed": _number(r.get("observed"), f"{where}.observed"),
                "success": success,
            }
        )
    return rows


def stage_rows(stage: str, part: dict, shape: dict | None = None) -> tuple[dict[str, list[dict]], dict]:
    """Rows per table and the small summary kept in ``stage_writes`` for one stage result; ``shape``: the load
    test's workload shape (``regression.baseline.workload_shape``), kept in its summary."""
    tables: dict[str, list[dict]] = {}
    if stage in ("loadtest", "db_benchmark"):
        stats, series = latency_rows(part, stage)
        tables["endpoint_stats" if stage == "loadtest" else "query_benchmark_stats"] = stats
        tables["timeseries"] = series
        tables["custom_metrics"] = metric_rows(part, stage)
        summary = {
            k: part.get(k)
            for k in ("started_at", "ended_at", "duration_s", "stages", "health", "aborted", "abort_reason")
        }
        summary["shape"] = shape  # what a later run must match to be compared with this one
    elif stage == "database":
        if not isinstance(part, dict):
            raise ValueError(f"database result must be a dict, got {type(part).__name__}")
        tables["db_findings"] = finding_rows(part.get("findings"))
        tables["db_maintenance"] = maintenance_rows(part.get("maintenance"))
        if part.get("benchmark"):
            stats, series = latency_rows(part["benchmark"], "database.benchmark")
            tables["query_benchmark_stats"], tables["timeseries"] = stats, series
        summary = {
            "statements_delta": part.get("statements_delta") or [],
            "table_stats": part.get("table_stats") or [],
        }
    elif stage == "validation":
        verdict = _require(part, "verdict", stage)
        tables["validation_results"] = validation_rows(part.get("results"))
        summary = {"verdict": verdict, "reason": part.get("reason"), "data_docs": part.get("data_docs")}
    else:
        raise ValueError(f"stage must be one of loadtest, database, db_benchmark, validation; got {stage!r}")
    return tables, summary
