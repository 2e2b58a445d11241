"""Correlation: a value a request sent that an earlier response gave becomes a variable, extracted from
that response and templated in the request.

Sources of a response: its JSON fields (the exact path, list indices included: the element that held
the value), its headers, its ``Set-Cookie`` and ``Location`` values, hidden inputs and meta tags of HTML
(CSRF tokens), and a distinctive value anywhere in a text body. Two rules keep coincidences out:

- only responses from before the value was first *sent* count (a response echoing what a request sent,
  like an order echoing its ``quantity``, did not give it);
- a short value (``3``, ``widget``) needs a matching name (``item_id`` or ``/items/3`` from a field
  ``id``, ``csrf`` from an input ``csrf``); a distinctive one (a token, a UUID) needs none.

Every extraction is checked against the recorded response with the engine's own rules before it is used.
"""

from __future__ import annotations

import html
import json
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

from include.perfpipe.recording.selection import Call
from include.perfpipe.recording.slots import Request, Slot

_ATTR = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"]*)"|'([^']*)')""")
_TAG = re.compile(r"<(input|meta)\b[^>]*>", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_GENERIC = {"id", "value", "key", "data", "content", "result", ""}
_UNHEADERS = {"set-cookie", "location", "date", "content-length", "content-type", "server", "expires",
              "last-modified", "age", "vary", "connection", "keep-alive", "transfer-encoding"}  # fmt: skip
RESERVED = {"vu", "iteration", "uuid", "now", "now_ms", "now_iso", "random_int", "random_choice", "credentials"}


class Source(NamedTuple):
    """Where a response holds a value: ``extract`` the scenario's extraction of it (a tuple: 155,000 JSON
    fields of a long recording are indexed in a third of the time frozen dataclasses take)."""

    key: str  # its name there: a JSON key, a header or cookie name, an input's name
    value: object
    extract: object  # a JSON path string, or a mapping ({header: ..., regex: ...})
    role: str  # the extraction with list indices as [*]: the same field in every repeat
    where: str = ""  # for the comments; a JSON field says its path

    @property
    def label(self) -> str:
        return self.where or f"{self.extract} of the JSON answer"

    @property
    def json_path(self) -> str | None:
        return self.extract if isinstance(self.extract, str) else None


@dataclass
class Binding:
    """A variable: extracted from ``source``, used by ``uses`` (call index, slot)."""

    name: str
    source: Source
    uses: list[tuple[int, Slot]] = field(default_factory=list)


@dataclass
class Correlation:
    extracts: dict[int, dict[str, Binding]]  # call index -> variable -> binding


def correlate(calls: list[Call], requests: list[Request]) -> Correlation:
    """Template every slot an earlier response gave; ``requests[i].templates`` are filled in place."""
    sent: dict[str, list[tuple[int, Slot]]] = {}  # value -> every (call, slot) that sent it, in order
    for i, request in enumerate(requests):
        for slot in request.slots():
            sent.setdefault(str(slot.value), []).append((i, slot))
    sources = _Index(calls)
    names: dict[tuple, str] = {}  # role -> variable name (the same field of every repeat: one name)
    by_value: dict[tuple[int, str], Binding] = {}  # (source call, its extraction) -> binding
    ranks: Counter = Counter()  # (source call, role) -> values bound from it so far
    result = Correlation({})
    for i, request in enumerate(requests):
        for slot in request.slots():
            if not _worth(slot.value):
                continue
            found = sources.best(slot, _first_sent(slot, sent[str(slot.value)]))
            if found is None:
                continue
            j, source = found
            binding = by_value.get((j, repr(source.extract)))
            if binding is None:
                role = (signature(requests[j]), source.role, ranks[(j, source.role)])
                ranks[(j, source.role)] += 1
                if role not in names:
                    names[role] = unique(_base_name(source, slot), set(names.values()))
                binding = Binding(names[role], source)
                by_value[(j, repr(source.extract))] = binding
                result.extracts.setdefault(j, {})[binding.name] = binding
            binding.uses.append((i, slot))
            request.templates[slot] = "{{ " + binding.name + " }}"
    return result


def _first_sent(slot: Slot, sent: list[tuple[int, Slot]]) -> int:
    """The first call that sent this value as the same thing (the same name, or anywhere when distinctive):
    a response after it only echoes it."""
    text, name = str(slot.value), _slot_name(slot)
    return next(i for i, other in sent if distinctive(text) or _slot_name(other) == name)


def signature(request: Request) -> tuple:
    """What makes two requests the same step: method, templated path, query keys."""
    path = request.path().partition("?")[0]
    keys = tuple(sorted(part.partition("=")[0] for part in request.query))
    return request.method, path, keys


def _worth(value) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    text = str(value)
    return bool(text) and len(text) <= 4096 and not isinstance(value, float)


def distinctive(text: str) -> bool:
    """A value too particular to be a coincidence: a token, a UUID, a long id."""
    if len(text) >= 16 and " " not in text:
        return True
    return len(text) >= 8 and any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def singular(word: str) -> str:
    """``orders`` -> ``order``, ``categories`` -> ``category`` (lower case)."""
    word = word.lower()
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _slot_name(slot: Slot) -> str:
    return _norm(singular(slot.name)) + "id" if slot.kind == "path" else _norm(slot.name)


def _compatible(slot: Slot, key: str) -> int:
    """2: the same name, 1: an id of that name (``item_id`` ~ ``id``), 0: unrelated."""
    wanted, have = _slot_name(slot), _norm(key)
    if not wanted or not have:
        return 0
    if wanted == have:
        return 2
    if have == "id" and wanted.endswith("id"):
        return 1
    if wanted == "id" and have.endswith("id"):
        return 1
    if "token" in wanted and "token" in have:
        return 1
    return 0


def _same(slot: Slot, value) -> bool:
    if slot.kind == "json":  # a JSON value keeps its type when templated: only a field of that type gives it
        return type(slot.value) is type(value) and slot.value == value
    return not isinstance(value, (bool, float)) and str(value) == str(slot.value)


class _Index:
    """Every response's sources by value, read once: a slot finds its candidates without a scan."""

    def __init__(self, calls: list[Call]) -> None:
        self.responses = [_Sources(call) for call in calls]
        self.by_value: dict[str, list[tuple[int, Source]]] = {}
        for j, response in enumerate(self.responses):
            for source in response.fixed():
                self.by_value.setdefault(str(source.value), []).append((j, source))
        self._texts: dict[str, list[int]] = {}  # a distinctive value -> the calls whose body holds it

    def best(self, slot: Slot, before: int) -> tuple[int, Source] | None:
        """The nearest response before call ``before`` that gave ``slot``'s value, and where in it."""
        text = str(slot.value)
        entries = self.by_value.get(text, [])
        at = bisect_left(entries, before, key=lambda entry: entry[0])
        while at > 0:
            j = entries[at - 1][0]
            group = []
            while at > 0 and entries[at - 1][0] == j:
                at -= 1
                group.append(entries[at][1])
            chosen = _choose(slot, [s for s in reversed(group) if _same(slot, s.value)])
            if chosen is not None:
                return j, chosen
        if not distinctive(text):
            return None
        if text not in self._texts:
            self._texts[text] = [j for j, r in enumerate(self.responses) if text in r.exchange.response_body]
        for j in reversed([j for j in self._texts[text] if j < before]):
            chosen = _choose(slot, self.responses[j].in_text(text))
            if chosen is not None:
                return j, chosen
        return None


def _choose(slot: Slot, candidates: list[Source]) -> Source | None:
    """The best-named candidate, the first in the response on a tie; a short value needs a matching name."""
    ranked = []
    for order, source in enumerate(candidates):
        score = _compatible(slot, source.key)
        if score or distinctive(str(slot.value)):
            ranked.append((-score, order, source))
    return min(ranked, key=lambda r: r[:2])[2] if ranked else None


class _Sources:
    """The sources a call's final response offers."""

    def __init__(self, call: Call) -> None:
        self.exchange = call.final

    def fixed(self) -> list[Source]:
        return [*self._json(), *self._html(), *self._headers()]

    def _json(self) -> list[Source]:
        exchange = self.exchange
        if "json" not in exchange.response_type and not exchange.response_body.lstrip().startswith(("{", "[")):
            return []
        try:
            document = json.loads(exchange.response_body)
        except ValueError:
            return []
        return [Source(key, value, written, role) for written, role, key, value in _leaves(document, "$", "$", "")]

    def _html(self) -> list[Source]:
        body = self.exchange.response_body
        if "html" not in self.exchange.response_type:
            return []
        found = []
        for tag in _TAG.finditer(body):
            attrs = {m.group(1).lower(): (m.group(3) if m.group(3) is not None else m.group(4), m)
                     for m in _ATTR.finditer(tag.group(0))}  # fmt: skip
            name_attr = "name" if "name" in attrs else ("property" if "property" in attrs else None)
            value_attr = "value" if tag.group(1).lower() == "input" else "content"
            if name_attr is None or value_attr not in attrs:
                continue
            name, name_match = attrs[name_attr]
            value, value_match = attrs[value_attr]
            if not value or html.unescape(value) != value:
                continue
            name_text, value_quote = name_match.group(0), value_match.group(2)[0]
            grab = f"{value_attr}={value_quote}([^{value_quote}]*){value_quote}"
            if name_match.start() < value_match.start():
                pattern = re.escape(name_text) + r"[^>]*?" + grab
            else:
                pattern = grab + r"[^>]*?" + re.escape(name_text)
            if _first_group(pattern, body) == value:
                kind = "hidden input" if tag.group(1).lower() == "input" else "meta tag"
                found.append(Source(name, value, {"regex": pattern}, pattern, f"the {kind} {name} of the page"))
        return found

    def _headers(self) -> list[Source]:
        found = []
        for name, value in self.exchange.response_headers:
            lower = name.lower()
            if lower == "set-cookie":
                cookie, _, rest = value.partition("=")
                cookie_value = rest.split(";")[0]
                pattern = "^" + re.escape(cookie.strip()) + "=([^;]*)"
                if cookie_value:
                    extract = {"header": "Set-Cookie", "regex": pattern}
                    found.append(Source(cookie.strip(), cookie_value, extract, pattern, f"the cookie {cookie.strip()}"))
            elif lower == "location":
                found += _location_sources(value)
            elif lower not in _UNHEADERS and distinctive(value):
                found.append(Source(name, value, {"header": name}, lower, f"the header {name}"))
        return found

    def in_text(self, text: str) -> list[Source]:
        """A distinctive value inside a text body, by a regex of the text just before it."""
        body = self.exchange.response_body
        at = body.find(text)
        if at < 0:
            return []
        before = body[max(0, at - 24) : at].rsplit("\n", 1)[-1]
        if not before:
            return []
        span = "[A-Za-z0-9_-]+" if re.fullmatch(r"[A-Za-z0-9_-]+", text) else r"[^\s\"'<>&]+"
        pattern = re.escape(before) + f"({span})"
        if _first_group(pattern, body) != text:
            return []
        return [Source("", text, {"regex": pattern}, pattern, "the text of the answer")]


def _location_sources(location: str) -> list[Source]:
    parts = urlsplit(location)
    segments = parts.path.split("/")
    found = []
    for i, segment in enumerate(segments):
        if i > 1 and segment:
            pattern = re.escape("/".join(segments[:i]) + "/") + "([^/?#]+)"
            if _first_group(pattern, location) == segment:
                key = singular(segments[i - 1]) + "_id"
                extract = {"header": "Location", "regex": pattern}
                found.append(Source(key, segment, extract, pattern, "the Location header"))
    for key, value in parse_qsl(parts.query):
        pattern = "[?&]" + re.escape(key) + "=([^&#]*)"
        if value and _first_group(pattern, location) == value:
            found.append(Source(key, value, {"header": "Location", "regex": pattern}, pattern, "the Location header"))
    return found


def _first_group(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return None if match is None else match.group(1)


def _key(name: str) -> str:
    return f".{name}" if _NAME.fullmatch(name) else f"['{name}']"


def _leaves(node, written: str, role: str, key: str):
    """(path with indices, path with [*], the nearest key, value) of every string or number, in order."""
    if isinstance(node, dict):
        for name, value in node.items():
            if isinstance(name, str) and "'" not in name:
                step = _key(name)
                yield from _leaves(value, written + step, role + step, name)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{written}[{i}]", role + "[*]", key)
    elif isinstance(node, (str, int)) and not isinstance(node, bool):  # a float or a bool is never an id
        yield written, role, key, node


def _base_name(source: Source, slot: Slot) -> str:
    if _norm(source.key) not in _GENERIC:
        return variable_name(source.key)
    if slot.kind == "path":
        return variable_name(singular(slot.name) + "_id") if slot.name else "path_value"
    return variable_name(slot.name or "value")


def variable_name(text: str) -> str:
    """``accessToken`` -> ``access_token``, ``XSRF-TOKEN`` -> ``xsrf_token``: letters, digits and _."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    name = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower() or "value"
    if name[0].isdigit():
        name = "v_" + name
    return name + "_value" if name in RESERVED else name


def unique(name: str, taken) -> str:
    """``name``, or ``name_2``, ``name_3`` ... when taken."""
    if name not in taken:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"
