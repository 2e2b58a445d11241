"""Feeders: rows of test data from a CSV or JSON file, drawn per VU or per iteration.

Strategies: ``sequential`` (each row once, unique across VUs, processes and shards: part ``p`` of
``n`` takes rows ``p, p + n, p + 2n, ...``), ``random`` and ``circular`` (in order, wrapping; each
part starts at its own offset). When sequential rows run out, ``stop`` ends the VU that asked and
``recycle`` starts the part's rows again.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from include.perfpipe.config_files import read_text
from include.perfpipe.errors import ConfigError

STRATEGIES = ("sequential", "random", "circular")
WHEN_EXHAUSTED = ("stop", "recycle")


class FeederExhausted(Exception):
    """A sequential feeder set to ``stop`` has no rows left for this part."""


def read_rows(path: str | Path, where: str = "feeder") -> list[dict]:
    """The rows of a ``.csv`` (header line, then rows) or ``.json`` (a list of objects) file."""
    path = Path(path)
    text = read_text(path, f"{where}.file")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if any(None in row or None in row.values() for row in rows):
            raise ConfigError(f"{where}.file: {str(path)!r} has a row with more or fewer fields than its header")
    elif path.suffix.lower() == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}.file: {str(path)!r} is not JSON: {exc}") from None
        except RecursionError:
            raise ConfigError(f"{where}.file: {str(path)!r} is nested too deeply") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ConfigError(f"{where}.file: {str(path)!r} must hold a list of objects")
    else:
        raise ConfigError(f"{where}.file: expected a .csv or .json file, got {str(path)!r}")
    if not rows:
        raise ConfigError(f"{where}.file: {str(path)!r} has no rows")
    return rows


def columns(rows: list[dict]) -> set[str]:
    """The columns every row has."""
    return set.intersection(*(set(row) for row in rows))


class Feeder:
    """Draws rows for part ``part`` of ``parts`` of a run."""

    def __init__(
        self,
        rows: list[dict],
        strategy: str = "sequential",
        when_exhausted: str = "stop",
        part: int = 0,
        parts: int = 1,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
        if when_exhausted not in WHEN_EXHAUSTED:
            raise ConfigError(f"when_exhausted: expected one of {WHEN_EXHAUSTED}, got {when_exhausted!r}")
        self.rows, self.strategy, self.when_exhausted = rows, strategy, when_exhausted
        self.part, self.parts = part, parts
        self._next = part if strategy == "sequential" else part * len(rows) // parts

    def next_row(self) -> dict:
        """The next row; ``FeederExhausted`` when a sequential feeder set to ``stop`` has none left."""
        rows = self.rows
        if self.strategy == "random":
            return random.choice(rows)
        if self.strategy == "circular":
            row = rows[self._next % len(rows)]
            self._next += 1
            return row
        if self._next >= len(rows):
            if self.when_exhausted == "stop" or self.part >= len(rows):
                raise FeederExhausted(f"{len(rows)} rows used")
            self._next = self.part
        row = rows[self._next]
        self._next += self.parts
        return row
