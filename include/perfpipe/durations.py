"""Durations as users write them (``30``, ``"30s"``, ``"500ms"``, ``"1m"``, ``"2h"``), shared by every stage."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value, field_name: str = "duration", *, positive: bool = False) -> float:
    """Seconds from ``value``; a ValueError naming ``field_name`` and the value otherwise.

    Negative durations are refused; ``positive`` refuses zero too.
    """
    expected = f"{field_name}: expected a duration like '30s', '1m' or '500ms', got {value!r}"
    if isinstance(value, bool):
        raise ValueError(expected)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(expected)
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds < 0 or (positive and seconds == 0):
        raise ValueError(f"{field_name}: a duration must be {'above' if positive else 'at least'} 0, got {value!r}")
    return seconds
