"""Extraction of VU variables from a response: a JSON path, a header, a regex or the status."""

from __future__ import annotations

import random
import re

from include.perfpipe.loadtest.journey.answer import NOT_JSON, Answer
from include.perfpipe.loadtest.journey.jsonpath import JsonPath
from include.perfpipe.loadtest.journey.models import Extract

_NOTHING = object()


class Extractor:
    """``value(answer)``: the extracted value, the model's ``default`` when nothing matched and one is
    set, else ``None`` (the step failed to extract)."""

    __slots__ = ("model", "_path", "_regex")

    def __init__(self, model: Extract) -> None:
        self.model = model
        self._path = JsonPath(model.json_path) if model.json_path is not None else None
        self._regex = re.compile(model.regex) if model.regex is not None else None

    def value(self, answer: Answer):
        model = self.model
        if model.status:
            return answer.status
        if model.header is not None and self._regex is not None:
            matches = [_group(m) for text in answer.header_values(model.header) for m in self._regex.finditer(text)]
        elif model.header is not None:
            found = answer.header(model.header)
            matches = [] if found is None else [found]
        elif self._regex is not None:
            matches = [_group(m) for m in self._regex.finditer(answer.body.decode("utf-8", "replace"))]
        else:
            document = answer.json()
            matches = [] if document is NOT_JSON else self._path.find(document)
        if not matches:
            return model.default
        if model.pick == "all":
            return matches
        if model.pick == "random":
            return random.choice(matches)
        return matches[-1] if model.pick == "last" else matches[0]


def _group(match: re.Match) -> str:
    """The first group, or the whole match."""
    return match.group(1) if match.groups() else match.group(0)
