"""Write a converted scenario: commented YAML that validates against the scenario models, and its
credentials feeder beside it (mode 0600: it holds what the recording's user typed).

The text is built in a fixed order from the draft alone (no time, no absolute path), so the same
recording gives the same file byte for byte.
"""

from __future__ import annotations

import csv
import io
import os
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import yaml
from pydantic import ValidationError

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.journey.models import ScenarioFile, describe

_REF = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass
class DraftStep:
    fields: dict  # the step as the file writes it
    notes: list[str] = field(default_factory=list)  # comment lines above it


@dataclass
class Draft:
    notes: list[str]  # the comment block at the top
    setup: list[DraftStep]
    steps: list[DraftStep]
    teardown: list[DraftStep] = field(default_factory=list)
    headers: dict = field(default_factory=dict)  # on every request
    journey_headers: dict = field(default_factory=dict)  # on steps and teardown
    feeders: dict = field(default_factory=dict)  # name -> feeder mapping
    feeder_rows: dict = field(default_factory=dict)  # feeder file name -> (columns, rows) written beside

    def as_mapping(self) -> dict:
        journey: dict = {}
        if self.journey_headers:
            journey["headers"] = self.journey_headers
        for part in ("setup", "steps", "teardown"):
            if getattr(self, part):
                journey[part] = [step.fields for step in getattr(self, part)]
        data: dict = {}
        if self.headers:
            data["headers"] = self.headers
        if self.feeders:
            data["feeders"] = self.feeders
        data["journey"] = journey
        return data


def render(draft: Draft, where: str = "scenario") -> str:
    """The YAML text; ConfigError when it would not load (a bug here, never a file the user must mend)."""
    check_order(draft, where)
    out = [line for note in draft.notes for line in _comment(note)]
    if draft.headers:
        out.append(_dump("headers", draft.headers))
    if draft.feeders:
        out.append("feeders:")
        out += ["  " + _dump(name, feeder) for name, feeder in draft.feeders.items()]
    out.append("journey:")
    if draft.journey_headers:
        out.append("  " + _dump("headers", draft.journey_headers))
    for part in ("setup", "steps", "teardown"):
        steps = getattr(draft, part)
        if not steps:
            continue
        out.append(f"  {part}:")
        for step in steps:
            out += ["    " + line for note in step.notes for line in _comment(note)]
            out += ["    " + line for line in _step_lines(step.fields)]
    text = "\n".join(out) + "\n"
    try:
        loaded = ScenarioFile.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        raise ConfigError(describe(exc, where)) from None
    if loaded.journey is None:
        raise ConfigError(f"{where}: no journey was written")
    return text


def write(draft: Draft, path: str | Path) -> list[Path]:
    """Write the scenario and its feeder files; returns the paths written."""
    path = Path(path)
    text = render(draft, str(path))
    written = []
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for name, (columns, rows) in draft.feeder_rows.items():
            feeder = path.parent / name
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
            _write_private(feeder, buffer.getvalue())
            written.append(feeder)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write it: {exc.strerror}", file=exc.filename or path) from None
    return [path, *written]


def step_names(requests: list[tuple[str, str]]) -> list[str]:
    """Names for (method, templated path) pairs, unique in the file: ``get_items``, ``get_item`` (a
    templated id after ``items``), ``post_orders``, then ``get_items_2``."""
    names, seen = [], Counter()
    for method, path in requests:
        words: list[str] = []
        segments = [s for s in path.partition("?")[0].split("/") if s]
        for k, segment in enumerate(segments):
            if "{{" in segment:
                if k == len(segments) - 1 and words:
                    words[-1] = re.sub(r"(ies|s)$", lambda m: "y" if m.group(1) == "ies" else "", words[-1])
                continue
            words.append(re.sub(r"[^a-z0-9]+", "_", unquote(segment).lower()).strip("_"))
        base = "_".join([method.lower(), *[w for w in words if w]])[:60]
        seen[base] += 1
        names.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return names


def check_order(draft: Draft, where: str) -> None:
    """Every ``{{ variable }}`` is extracted by an earlier step (setup, steps, teardown in that order)."""
    known: set[str] = set()
    journey_refs = set(_REF.findall(str(draft.journey_headers)))
    for part in ("setup", "steps", "teardown"):
        for step in getattr(draft, part):
            refs = set(_REF.findall(str({k: v for k, v in step.fields.items() if k != "extract"})))
            if part != "setup":
                refs |= journey_refs
            missing = sorted(refs - known)
            if missing:
                raise ConfigError(
                    f"{where}: step {step.fields.get('name')!r} ({part}) uses {missing}, which no earlier step "
                    "extracts: choose --setup/--steps so that the steps giving them come first"
                )
            known |= set(step.fields.get("extract", {}))


def _step_lines(fields: dict) -> list[str]:
    """The step as a list item: short collections in flow style, block style when a line would pass 116."""
    for flow in (None, False):
        text = yaml.safe_dump([fields], sort_keys=False, default_flow_style=flow, width=10_000, allow_unicode=True)
        lines = text.rstrip("\n").split("\n")
        if all(len(line) <= 116 for line in lines):
            break
    return lines


def _dump(key: str, mapping: dict) -> str:
    """``key: {flow: mapping}`` on one line."""
    return f"{key}: " + yaml.safe_dump(mapping, sort_keys=False, default_flow_style=True, width=10_000).strip()


def _comment(note: str) -> list[str]:
    """A note as comment lines of at most 110 characters."""
    return ["# " + line for line in textwrap.wrap(note, 106, break_on_hyphens=False)] or ["#"]


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
