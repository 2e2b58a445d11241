"""The verdict of a run and the validation result handed on through XCom, the CLI and the store."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from include.perfpipe.metrics import class_of
from include.perfpipe.validation.gx_checkpoint import RESULT_COLUMNS
from include.perfpipe.validation.verdict import Verdict, parse_verdict

RESULT_FILE = "validation.json"


@dataclass
class ValidationResult:
    verdict: Verdict
    reason: str
    results: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RESULT_COLUMNS))
    data_docs: str | None = None  # the Data Docs index, relative to the run folder
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def to_dict(self) -> dict:
        """JSON-able (NaN observed values become ``None``)."""
        records = [{col: _plain(row[col]) for col in RESULT_COLUMNS} for row in self.results.to_dict(orient="records")]
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "results": records,
            "data_docs": self.data_docs,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ValidationResult:
        verdict = parse_verdict(data.get("verdict"))
        rows = [{**r, "class_name": class_of(r)} for r in data.get("results") or []]  # also one before the rename
        results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
        results["observed"] = results["observed"].astype(float)
        return cls(verdict, data.get("reason", ""), results, data.get("data_docs"), list(data.get("notes") or []))

    def save(self, run_dir: Path) -> Path:
        """Write ``validation.json`` into ``run_dir`` atomically (a rerun replaces, never appends)."""
        path = Path(run_dir) / RESULT_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, path)
        return path


def _plain(value):
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
