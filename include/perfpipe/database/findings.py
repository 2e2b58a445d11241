"""The finding record every insight check returns, and JSON-safe conversion of its evidence."""

from __future__ import annotations

import datetime as dt
import decimal

SEVERITIES = ("critical", "warning", "info")


def finding(check: str, severity: str, obj: str, evidence: dict, recommendation: str, sql: str | None = None) -> dict:
    """One insight: ``{check, severity, object, evidence, recommendation, sql}`` (see docs/findings-schema.md)."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    return {
        "check": check,
        "severity": severity,
        "object": obj,
        "evidence": {k: jsonable(v) for k, v in evidence.items()},
        "recommendation": recommendation,
        "sql": sql,
    }


def jsonable(value):
    """Timestamps to ISO strings, intervals to seconds, decimals to floats; containers recursively."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds(), 3)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def severity_rank(severity: str) -> int:
    """0 for critical, 1 for warning, 2 for info: sort key and ``--fail-on`` comparison."""
    return SEVERITIES.index(severity)
