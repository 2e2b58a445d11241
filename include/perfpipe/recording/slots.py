"""Where a value sits in a recorded request (a path segment, a query value, a header, a JSON field, a form
field) and the request written back with some of them replaced by templates.

Headers the replay must not copy are dropped here: the VU's cookie jar sends cookies, the engine writes
``Content-Length``, ``Host`` and ``Accept-Encoding``, and browser-only headers describe a browser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from include.perfpipe.recording.selection import Call

DROPPED = {
    "cookie": "Cookie (each VU's cookie jar sends what its responses set)",
    "content-length": "Content-Length",
    "host": "Host",
    "accept-encoding": "Accept-Encoding (the engine asks for gzip and deflate)",
    "connection": "hop-by-hop headers",
    "keep-alive": "hop-by-hop headers",
    "transfer-encoding": "hop-by-hop headers",
    "te": "hop-by-hop headers",
    "upgrade": "hop-by-hop headers",
    "if-none-match": "conditional headers (a replay gets the full answer)",
    "if-modified-since": "conditional headers (a replay gets the full answer)",
    "referer": "browser-only headers (sec-*, Referer, Origin, User-Agent ...)",
    "origin": "browser-only headers (sec-*, Referer, Origin, User-Agent ...)",
    "user-agent": "browser-only headers (sec-*, Referer, Origin, User-Agent ...)",
    "dnt": "browser-only headers (sec-*, Referer, Origin, User-Agent ...)",
    "upgrade-insecure-requests": "browser-only headers (sec-*, Referer, Origin, User-Agent ...)",
    "priority": "browser-only headers (sec-*, Referer, Origin, User-Agent ...)",
}
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Slot:
    """A value of a request: ``kind`` path, query, header, json or form; ``name`` what it is called there
    (a field or header name; for a path segment, the segment before it)."""

    kind: str
    name: str
    value: object
    at: object  # where in its part: a segment or pair index, a header name, a JSON path tuple

    @property
    def where(self) -> str:
        if self.kind == "path":
            return "path"
        if self.kind == "json":
            return "json " + ".".join(str(p) for p in self.at)
        return f"header {self.at}" if self.kind == "header" else f"{self.kind} {self.name}"


@dataclass
class Request:
    """A call's request as the scenario will write it, with ``templates`` replacing slots."""

    method: str
    segments: list[str]  # the raw path split on '/', the first one '' (the path starts with '/')
    query: list[str]  # raw 'key=value' parts
    headers: dict[str, str]
    json_body: object = None
    form: list[str] | None = None  # raw 'key=value' parts
    text_body: str | None = None
    dropped: set[str] = field(default_factory=set)  # why headers were dropped
    templates: dict[Slot, str] = field(default_factory=dict)

    def slots(self) -> list[Slot]:
        found = []
        for i, segment in enumerate(self.segments):
            if segment and i > 0:
                found.append(Slot("path", unquote_plus(self.segments[i - 1]) if i > 1 else "", _text(segment), i))
        for i, part in enumerate(self.query):
            key, _, value = part.partition("=")
            if value:
                found.append(Slot("query", unquote_plus(key), unquote_plus(value), i))
        for name, value in self.headers.items():
            scheme, _, credential = value.partition(" ")
            if name.lower() == "authorization" and scheme.lower() == "bearer" and credential:
                found.append(Slot("header", "token", credential.strip(), name))
            elif value:
                found.append(Slot("header", name, value, name))
        if self.json_body is not None:
            found += [Slot("json", str(path[-1]) if path else "", v, path) for path, v in _leaves(self.json_body)]
        for i, part in enumerate(self.form or []):
            key, _, value = part.partition("=")
            if value:
                found.append(Slot("form", unquote_plus(key), unquote_plus(value), i))
        return found

    # -- written back -------------------------------------------------------------------------------
    def path(self) -> str:
        segments = [self.templates.get(_find(self, "path", i), seg) for i, seg in enumerate(self.segments)]
        query = [self._pair(part, "query", i) for i, part in enumerate(self.query)]
        return "/".join(segments) + ("?" + "&".join(query) if query else "")

    def written_headers(self) -> dict[str, str]:
        written = {}
        for name, value in self.headers.items():
            slot = _find(self, "header", name)
            if slot in self.templates:
                value = ("Bearer " if slot.name == "token" and name.lower() == "authorization" else "") + (
                    self.templates[slot]
                )
            written[name] = value
        return written

    def written_json(self):
        replaced = {slot.at: text for slot, text in self.templates.items() if slot.kind == "json"}
        return _replace(self.json_body, (), replaced)

    def written_body(self) -> str | None:
        if self.form is not None:
            return "&".join(self._pair(part, "form", i) for i, part in enumerate(self.form))
        return self.text_body

    def _pair(self, part: str, kind: str, i: int) -> str:
        slot = _find(self, kind, i)
        if slot in self.templates:
            return part.partition("=")[0] + "=" + self.templates[slot]
        return part


def request_of(call: Call, keep_user_agent: bool = False) -> Request:
    """The call's first request, its headers dropped as the module says, its body parsed."""
    exchange = call.first
    headers: dict[str, str] = {}
    dropped: set[str] = set()
    json_body = form = text_body = None
    body = exchange.body
    if body is not None and (exchange.body_type == "application/json" or exchange.body_type.endswith("+json")):
        try:
            json_body = json.loads(body)
        except ValueError:
            text_body = body
    elif body is not None and exchange.body_type == FORM:
        form = body.split("&")
    else:
        text_body = body
    for name, value in exchange.headers:
        lower = name.lower()
        if lower.startswith(":"):
            dropped.add("HTTP/2 pseudo-headers")
        elif lower.startswith("sec-"):
            dropped.add(DROPPED["referer"])
        elif lower in DROPPED and not (lower == "user-agent" and keep_user_agent):
            dropped.add(DROPPED[lower])
        elif lower == "content-type" and json_body is not None and exchange.body_type == "application/json":
            dropped.add("Content-Type of JSON bodies (the engine writes it)")
        elif lower not in (n.lower() for n in headers):
            headers[name] = value
    segments = exchange.raw_path.split("/")
    query = [part for part in exchange.raw_query.split("&") if part]
    return Request(exchange.method, segments, query, headers, json_body, form, text_body, dropped)


def _text(segment: str) -> str:
    return unquote_plus(segment)


def _find(request: Request, kind: str, at) -> Slot | None:
    for slot in request.templates:
        if slot.kind == kind and slot.at == at:
            return slot
    return None


def _leaves(node, path: tuple = ()):
    """(path, value) of every string or number in a JSON document, in document order."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    elif isinstance(node, (str, int, float)) and not isinstance(node, bool):
        yield path, node


def _replace(node, path: tuple, replaced: dict):
    if path in replaced:
        return replaced[path]
    if isinstance(node, dict):
        return {k: _replace(v, (*path, k), replaced) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, (*path, i), replaced) for i, v in enumerate(node)]
    return node
