"""Threshold selectors: a threshold on any slice of a run, e.g. ``{scenario: checkout, group: pay}``.

A selector is written where a class name goes: ``"{scenario: checkout, group: pay}"`` or
``"scenario=checkout,group=pay"``. Keys: ``scenario``, ``group``, ``step``, ``class``; any other key
is a tag. Its canonical ``label`` (keys sorted, ``k=v`` joined by ``,``) names the threshold's rows.
Selectors are judged over the whole run, from the recorder's endpoint histograms (merged exactly).
"""

from __future__ import annotations

import pandas as pd
import yaml

from include.perfpipe.metrics import WHOLE_SELECTOR_SCOPE, MetricsRecorder, stats_row

FIELDS = {"scenario": "scenario", "group": "group", "step": "name", "class": "class_name"}


def parse_selector(text: str) -> dict[str, str] | None:
    """The selector ``text`` spells, or None when it is a plain class name; ValueError when malformed."""
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            raw = yaml.safe_load(stripped)
        except yaml.YAMLError:  # its text quotes the key over several lines
            raise ValueError("not a selector mapping; write e.g. {scenario: checkout, group: pay}") from None
        if not isinstance(raw, dict) or not raw:
            raise ValueError("a selector is a non-empty mapping like {scenario: checkout, group: pay}")
        pairs = {str(k): str(v) for k, v in raw.items()}
    elif "=" in stripped:
        pairs = {}
        for part in stripped.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ValueError(f"a selector is key=value pairs joined by ',', got {text!r}")
            pairs[key.strip()] = value.strip()
    else:
        return None
    return pairs


def label(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def matches(selector: dict[str, str], totals) -> bool:
    tags = dict(totals.tags)
    for key, value in selector.items():
        attribute = FIELDS.get(key)
        if (getattr(totals, attribute) if attribute else tags.get(key)) != value:
            return False
    return True


def selector_rows(labels: set[str], recorder: MetricsRecorder, duration_s: float) -> pd.DataFrame:
    """One whole-run row per selector label that matched some requests (``class_name`` and ``name`` the label)."""
    rows = []
    for text in sorted(labels):
        selector = parse_selector(text)
        group = [t for t in recorder.endpoints.values() if matches(selector, t)]
        if group and sum(t.count for t in group):
            rows.append(stats_row(WHOLE_SELECTOR_SCOPE, text, text, group, duration_s))
    return pd.DataFrame(rows)
