"""The target connection's secrets as k6 may write them, and a function that masks them (``***``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, quote_plus

MASK = "***"
# the keys of k6's summary export that are its own words, never a script's (kept as they are)
SUMMARY_WORDS = frozenset(
    {
        "metrics",
        "root_group",
        "options",
        "state",
        "thresholds",
        "avg",
        "min",
        "med",
        "max",
        "count",
        "rate",
        "value",
        "passes",
        "fails",
        "name",
        "path",
        "id",
        "groups",
        "checks",
        "summaryTrendStats",
        "summaryTimeUnit",
        "noColor",
        "isStdOutTTY",
        "isStdErrTTY",
        "testRunDurationMs",
    }
)
_STAT = re.compile(r"^p\([\d.]+\)$")


def secret_forms(secrets: Mapping[str, str] | None) -> list[str]:
    """Each secret value as k6 may write it: as is, escaped in its JSON output (Go escapes ``<>&`` too) and
    URL-encoded (a script may put it in a query string); longest first, so a longer form is masked whole."""
    forms = set()
    for value in (v for v in (secrets or {}).values() if v):
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            escaped = escaped.replace(char, code)
        forms |= {value, escaped, quote(value, safe=""), quote(value), quote_plus(value)}
    return sorted(forms, key=len, reverse=True)


def masker(forms: Iterable[str]) -> Callable[[str], str] | None:
    """A function replacing every form in a text by ``***``; None for no forms."""
    forms = sorted(forms, key=len, reverse=True)
    if not forms:
        return None
    pattern = re.compile("|".join(re.escape(form) for form in forms))
    return lambda text: pattern.sub(MASK, text)


def masked_document(document, mask: Callable[[str], str]):
    """k6's parsed summary export with every string masked, and every key but k6's own words (``metrics``,
    ``p(95)``, ``passes``, ...): its structure cannot break whatever a secret matches (masking the text before
    parsing could cut a key or a number), and a metric, group or check named after a secret is masked."""
    if isinstance(document, dict):
        return {
            key if key in SUMMARY_WORDS or _STAT.match(key) else mask(key): masked_document(value, mask)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [masked_document(value, mask) for value in document]
    return mask(document) if isinstance(document, str) else document
