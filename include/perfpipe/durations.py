"""Durations as users write them (``30``, ``"30s"``, ``"500ms"``, ``"1m"``, ``"2h"``), shared by every stage."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

from include.perfpipe.errors import ConfigError

DURATION_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$"  # also the DAG form's Param pattern
_DURATION = re.compile(DURATION_PATTERN)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value, field_name: str = "duration", *, positive: bool = False) -> float:
    """Seconds from ``value``; a ConfigError naming ``field_name`` and the value otherwise.

    Negative durations are refused; ``positive`` refuses zero too.
    """
    expected = f"{field_name}: expected a duration like '30s', '1m' or '500ms', got {value!r}"
    if isinstance(value, bool):
        raise ConfigError(expected)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        seconds = duration_seconds(str(value))
        if seconds is None:
            raise ConfigError(expected)
    if seconds < 0 or (positive and seconds == 0):
        raise ConfigError(f"{field_name}: a duration must be {'above' if positive else 'at least'} 0, got {value!r}")
    return seconds


def duration_seconds(text: str) -> float | None:
    """Seconds of a duration string (a bare number is seconds), None when ``text`` is not one."""
    match = _DURATION.match(text)
    return None if match is None else float(match.group(1)) * _UNIT_S[match.group(2)]


def _seconds(value) -> float:
    try:
        return parse_duration(value)
    except ConfigError as exc:  # pydantic names the field
        raise ValueError(str(exc).removeprefix("duration: ")) from None


Seconds = Annotated[float, BeforeValidator(_seconds)]
"""A duration field of a pydantic model, in seconds."""
