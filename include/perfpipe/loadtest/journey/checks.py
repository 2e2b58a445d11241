"""Declarative checks on a response, and their tally: passes and failures per step and check."""

from __future__ import annotations

from include.perfpipe.loadtest.journey.answer import NOT_JSON, Answer
from include.perfpipe.loadtest.journey.jsonpath import JsonPath
from include.perfpipe.loadtest.journey.models import Check


class CheckRule:
    """``passed(answer) -> bool`` for one ``Check``; ``key`` is ``"step: label"`` (its tally row)."""

    __slots__ = ("model", "key", "fail_request", "_path", "_statuses")

    def __init__(self, model: Check, step: str) -> None:
        self.model, self.key, self.fail_request = model, f"{step}: {model.label}", model.fail_request
        self._path = JsonPath(model.json_path) if model.json_path is not None else None
        self._statuses = frozenset(model.status or ())

    def passed(self, answer: Answer) -> bool:
        model = self.model
        if model.status is not None:
            return answer.status in self._statuses
        if model.body_contains is not None:
            return model.body_contains.encode() in answer.body
        document = answer.json()
        found = [] if document is NOT_JSON else self._path.find(document)
        if "equals" in model.model_fields_set:
            return bool(found) and found[0] == model.equals
        if model.length is not None:
            return bool(found) and hasattr(found[0], "__len__") and len(found[0]) == model.length
        return bool(found) != (model.exists is False)


class CheckTally:
    """``{key: [passed, failed]}``; JSON-able and merged exactly across processes and shards."""

    def __init__(self, counts: dict[str, list[int]] | None = None) -> None:
        self.counts: dict[str, list[int]] = counts or {}

    def add(self, key: str, passed: bool) -> None:
        row = self.counts.get(key)
        if row is None:
            row = self.counts[key] = [0, 0]
        row[0 if passed else 1] += 1

    def to_dict(self) -> dict:
        return {key: {"passed": p, "failed": f, "pass_rate": p / (p + f)} for key, (p, f) in self.counts.items()}

    @classmethod
    def from_dict(cls, data: dict) -> CheckTally:
        return cls({key: [row["passed"], row["failed"]] for key, row in (data or {}).items()})

    @classmethod
    def merge(cls, tallies: list[CheckTally]) -> CheckTally:
        merged = cls()
        for tally in tallies:
            for key, (p, f) in tally.counts.items():
                row = merged.counts.setdefault(key, [0, 0])
                row[0] += p
                row[1] += f
        return merged
