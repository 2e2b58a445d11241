"""Parsing of threshold limits (``"< 100ms"``, ``">= 1000/s"``, ``"1%"``) and durations (``"30s"``).

Every metric has a kind (``metric_names.METRICS``) that fixes its base unit and the units a limit may be written in:
latency in milliseconds, ratios as fractions, rates in requests per second, counts as plain numbers.
A parse failure raises ``ValueError`` with a short problem text; the caller adds file and field.
"""

from __future__ import annotations

import re

from include.perfpipe.durations import duration_seconds
from include.perfpipe.metric_names import COUNT, LATENCY, METRICS, NUMBER, RATE, RATIO
from include.perfpipe.vocabulary import OPERATOR_RE

# kind -> unit suffix -> factor to the base unit ("" is a bare number)
UNITS: dict[str, dict[str, float]] = {
    LATENCY: {"": 1.0, "ms": 1.0, "us": 0.001, "µs": 0.001, "s": 1000.0},
    RATIO: {"": 1.0, "%": 0.01},
    RATE: {"": 1.0, "/s": 1.0, "rps": 1.0, "req/s": 1.0},
    COUNT: {"": 1.0, "vus": 1.0, "users": 1.0, "connections": 1.0},
    NUMBER: {"": 1.0},  # a custom metric's own unit
}
_LIMIT = re.compile(rf"^\s*({OPERATOR_RE})?\s*(\d+(?:\.\d*)?|\.\d+)\s*(\S*)\s*$")


def parse_limit(metric: str, value: object) -> tuple[str, float]:
    """Return ``(operator, limit in the metric's base unit)`` for a YAML number or limit string."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric; known: {', '.join(METRICS)}")
    return parse_limit_of(METRICS[metric].kind, METRICS[metric].operator, value)


def parse_limit_of(kind: str, default_op: str, value: object) -> tuple[str, float]:
    """``parse_limit`` for a limit of ``kind`` (LATENCY, RATIO, RATE, COUNT), e.g. a custom metric's."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("a limit is a number or a string like '< 100ms'")
    if isinstance(value, (int, float)):
        op, number, unit = default_op, float(value), ""
    else:
        match = _LIMIT.match(value)
        if not match:
            raise ValueError("cannot read this limit; write e.g. '< 100ms', '>= 1000/s' or '1%'")
        op, number, unit = match.group(1) or default_op, float(match.group(2)), match.group(3)
    factors = UNITS[kind]
    if unit not in factors:  # the unit is not repeated: the limit may come from a file, which no message quotes
        units = ", ".join(repr(u) for u in factors if u)
        raise ValueError(f"unknown unit for a {kind} metric; use {f'one of {units} or ' if units else ''}a bare number")
    limit = number * factors[unit]
    if kind == RATIO and limit > 1.0:
        raise ValueError("a ratio is a fraction between 0 and 1 (or a percentage like '1%')")
    return op, limit


def parse_duration_s(value: object, minimum: int = 1) -> int:
    """Whole seconds from ``30``, ``"30s"``, ``"1m"``; at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("a duration is a number of seconds or a string like '30s' or '1m'")
    if isinstance(value, str):
        seconds = duration_seconds(value)
        if seconds is None:
            raise ValueError("cannot read this duration; write e.g. '30s' or '1m'")
    else:
        seconds = float(value)
    if seconds < minimum or seconds != int(seconds):
        raise ValueError(f"a whole number of seconds, at least {minimum}, is needed")
    return int(seconds)
