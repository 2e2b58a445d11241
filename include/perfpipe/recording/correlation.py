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
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from include.perfpipe.recording.selection import Call
from include.perfpipe.recording.slots import Request, Slot

_ATTR = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"]*)"|'([^']*)')""")
_TAG = re.compile(r"<(input|meta)\b[^>]*>", re.IGNORECASE)
_GENERIC = {"id", "value", "key", "data", "content", "result", ""}
_UNHEADERS = {"set-cookie", "location", "date", "content-length", "content-type", "server", "expires",
              "last-modified", "age", "vary", "connection", "keep-alive", "transfer-encoding"}  # fmt: skip
RESERVED = {"vu", "iteration", "uuid", "now", "now_ms", "now_iso", "random_int", "random_choice", "credentials"}


@dataclass(frozen=True)
class Source:
    """Where a response holds a value: ``extract`` the scenario's extraction of it."""

    key: str  # its name there: a JSON key, a header or cookie name, an input's name
    value: object
    extract: object  # a JSON path string, or a mapping ({header: ..., regex: ...})
    role: str  # the extraction with list indices as [*]: the same field in every repeat
    label: str  # for the comments

    @property
    def json_path(self) -> str | None:
        return self.extract if isinstance(self.extract, str) else None


@dataclass
class Binding:
    """A variable: extracted by call ``source_call`` from ``source``, used by ``uses``."""

    name: str
    source_call: int
    source: Source
    uses: list[tuple[int, Slot]] = field(default_factory=list)


@dataclass
class Correlation:
    bindings: list[Binding]
    extracts: dict[int, dict[str, Binding]]  # call index -> variable -> binding


def correlate(calls: list[Call], requests: list[Request]) -> Correlation:
    """Template every slot an earlier response gave; ``requests[i].templates`` are filled in place."""
    sent: dict[str, list[tuple[int, Slot]]] = {}  # value -> every (call, slot) that sent it, in order
    for i, request in enumerate(requests):
        for slot in request.slots():
            sent.setdefault(str(slot.value), []).append((i, slot))
    sources = [_Sources(call) for call in calls]
    names: dict[tuple, str] = {}  # role -> variable name (the same field of every repeat: one name)
    by_value: dict[tuple[int, str], Binding] = {}  # (source call, its extraction) -> binding
    result = Correlation([], {})
    for i, request in enumerate(requests):
        for slot in request.slots():
            if not _worth(slot.value):
                continue
            found = None
            for j in range(_first_sent(slot, sent[str(slot.value)]) - 1, -1, -1):
                source = sources[j].best(slot)
                if source is not None:
                    found = (j, source)
                    break
            if found is None:
                continue
            j, source = found
            binding = by_value.get((j, repr(source.extract)))
            if binding is None:
                rank = sum(1 for (k, _), b in by_value.items() if k == j and b.source.role == source.role)
                role = (_signature(requests[j]), source.role, rank)
                if role not in names:
                    names[role] = unique(_base_name(source, slot), set(names.values()))
                binding = Binding(names[role], j, source)
                by_value[(j, repr(source.extract))] = binding
                result.bindings.append(binding)
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
    return _signature(request)


def _signature(request: Request) -> tuple:
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


class _Sources:
    """The sources a call's final response offers, read once."""

    def __init__(self, call: Call) -> None:
        self.exchange = call.final
        self._fixed: list[Source] | None = None

    def best(self, slot: Slot) -> Source | None:
        """The source of ``slot``'s value: the best-named match, first in the response on a tie."""
        text = str(slot.value)
        candidates = [s for s in self._all() if _same(slot, s.value)]
        if not candidates and distinctive(text):
            candidates = self._in_text(text)
        ranked = []
        for order, source in enumerate(candidates):
            score = _compatible(slot, source.key)
            if score or distinctive(text):
                ranked.append((-score, order, source))
        return min(ranked, key=lambda r: r[:2])[2] if ranked else None

    def _all(self) -> list[Source]:
        if self._fixed is None:
            self._fixed = [*self._json(), *self._html(), *self._headers()]
        return self._fixed

    def _json(self) -> list[Source]:
        exchange = self.exchange
        if "json" not in exchange.response_type and not exchange.response_body.lstrip().startswith(("{", "[")):
            return []
        try:
            document = json.loads(exchange.response_body)
        except ValueError:
            return []
        found = []
        for path, value in _leaves(document, ()):
            written = "$" + "".join(_step(p) for p in path)
            role = "$" + "".join("[*]" if isinstance(p, int) else _step(p) for p in path)
            key = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
            found.append(Source(key, value, written, role, f"{written} of the JSON answer"))
        return found

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

    def _in_text(self, text: str) -> list[Source]:
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


def _step(part) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    return f".{part}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part) else "['" + part.replace("'", "") + "']"


def _leaves(node, path: tuple):
    if isinstance(node, dict):
        for key, value in node.items():
            if "'" not in key:
                yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    elif not isinstance(node, bool) and node is not None:
        yield path, node


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
