"""Read a HAR 1.2 file (what DevTools' "Save all as HAR" writes) into typed exchanges, in start order.

A malformed file is refused in one line naming the file and the field, never echoing its content (a
recording holds passwords and tokens).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from include.perfpipe.config_files import read_text
from include.perfpipe.errors import ConfigError


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its response."""

    entry: int  # 1-based position in the HAR's log.entries
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str | None  # the request body as text
    body_type: str  # its mime type, lower case, without parameters
    status: int
    response_headers: tuple[tuple[str, str], ...]
    response_body: str  # text, '' for a binary or empty body
    response_type: str

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def raw_path(self) -> str:
        """The path as recorded (percent-encoded), without the query."""
        return urlsplit(self.url).path or "/"

    @property
    def raw_query(self) -> str:
        return urlsplit(self.url).query

    def header(self, name: str) -> str | None:
        return _first(self.headers, name)

    def response_header(self, name: str) -> str | None:
        return _first(self.response_headers, name)


def read_har(path: str | Path) -> list[Exchange]:
    """The file's entries as exchanges, sorted by start time (stable), HTTP(S) ones only."""
    path = Path(path)
    text = read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not a HAR file: not JSON (line {exc.lineno}, column {exc.colno})", file=path) from None
    except RecursionError:  # json recurses per level: a hostile file nested ~1,000 deep ends Python's stack
        raise ConfigError("not a HAR file: nested too deeply", file=path) from None
    entries = document.get("log", {}).get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("log.entries: expected the list of recorded requests (a HAR 1.2 file)", file=path)
    exchanges = [_exchange(entry, number, path) for number, entry in enumerate(entries, 1)]
    started = [_started(entry, number, path) for number, entry in enumerate(entries, 1)]
    order = sorted(range(len(exchanges)), key=lambda i: started[i])
    return [exchanges[i] for i in order if exchanges[i].url.startswith(("http://", "https://"))]


def _exchange(entry, number: int, path: Path) -> Exchange:
    where = f"log.entries[{number - 1}]"
    request = _mapping(entry, "request", where, path)
    response = _mapping(entry, "response", where, path)
    post = request.get("postData") or {}
    content = response.get("content") or {}
    status = response.get("status")
    if not isinstance(status, int) or not 0 <= status <= 599:
        raise ConfigError(f"{where}.response.status: expected a number from 0 to 599", file=path)
    return Exchange(
        entry=number,
        method=_text(request, "method", f"{where}.request", path).upper(),
        url=_text(request, "url", f"{where}.request", path),
        headers=_headers(request, f"{where}.request", path),
        body=post_body(post),
        body_type=_mime(post.get("mimeType")),
        status=status,
        response_headers=_headers(response, f"{where}.response", path),
        response_body=_content_text(content),
        response_type=_mime(content.get("mimeType")),
    )


def _started(entry: dict, number: int, path: Path) -> datetime:
    text = entry.get("startedDateTime")
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ConfigError(f"log.entries[{number - 1}].startedDateTime: expected an ISO 8601 time", file=path) from None


def _mapping(node, key: str, where: str, path: Path) -> dict:
    value = node.get(key) if isinstance(node, dict) else None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}.{key}: missing or not an object", file=path)
    return value


def _text(node: dict, key: str, where: str, path: Path) -> str:
    value = node.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}: missing or not text", file=path)
    return value


def _headers(node: dict, where: str, path: Path) -> tuple[tuple[str, str], ...]:
    pairs = node.get("headers", [])
    if not isinstance(pairs, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("value"), str) for p in pairs
    ):
        raise ConfigError(f"{where}.headers: expected a list of {{name, value}} objects", file=path)
    return tuple((p["name"], p["value"]) for p in pairs)


def post_body(post: dict) -> str | None:
    """The request body: ``text``, else a form rebuilt from ``params`` (some browsers write only those)."""
    text, params = post.get("text"), post.get("params")
    if isinstance(text, str) and text:
        return text
    if isinstance(params, list) and params and all(isinstance(p, dict) and "name" in p for p in params):
        return urlencode([(str(p["name"]), str(p.get("value", ""))) for p in params])
    return None


def _mime(value) -> str:
    return value.split(";")[0].strip().lower() if isinstance(value, str) else ""


def _content_text(content: dict) -> str:
    text = content.get("text")
    if not isinstance(text, str):
        return ""
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return text


def _first(pairs: tuple[tuple[str, str], ...], name: str) -> str | None:
    name = name.lower()
    return next((value for key, value in pairs if key.lower() == name), None)
