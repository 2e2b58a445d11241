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


def age_words(seconds: float) -> str:
    """``45 seconds``, ``3 minutes``, ``5 hours``, ``2.5 days``, ``12 days``: a duration as a DBA says it."""
    for unit, size, up_to in (("second", 1, 120), ("minute", 60, 7200), ("hour", 3600, 172800)):
        if seconds < up_to:
            n = round(seconds / size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    days = seconds / 86400
    return f"{days:.1f}".removesuffix(".0") + " days" if days < 10 else f"{days:.0f} days"


def size_words(n_bytes: float | None) -> str:
    """``80 KB``, ``1.5 MB``, ``12 GB`` (powers of 1024, as pg_size_pretty)."""
    if n_bytes is None:
        return "size unknown"
    units, i = ("bytes", "KB", "MB", "GB", "TB"), 0
    while n_bytes >= 1024 and i < len(units) - 1:
        n_bytes, i = n_bytes / 1024, i + 1
    return f"{n_bytes:.1f} {units[i]}" if i >= 2 and n_bytes < 10 else f"{n_bytes:.0f} {units[i]}"
