"""A step's request compiled once: the single pre-built buffer when nothing is templated, otherwise
byte segments with the request line, the templated headers and Content-Length spliced per send."""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import urlsplit

import httpx

from include.perfpipe.loadtest.http.headers import DEFAULT_HEADERS, octets
from include.perfpipe.loadtest.journey.template import (
    EncodeError,
    Template,
    TemplateError,
    has_template,
    header_value,
    json_string_part,
    literal_url_part,
    url_part,
)

_SENTINEL = re.compile(r'"\\u0000(\d+)\\u0000"')
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class RequestTemplate:
    """``build(session) -> bytes``: the request to write. ``static`` is True when every send is the
    same (then ``raw`` is the one buffer); ``refs`` are the variable and feeder names it reads."""

    def __init__(
        self, method: str, url: str, headers: dict[str, str], json_body=None, text_body: str | None = None
    ) -> None:
        origin, path = _split_origin(url)
        self.method, self.url, self.refs = method, url, set()
        self.path = self._template(path, "path")
        self.path.parts = [literal_url_part(p) if isinstance(p, str) else p for p in self.path.parts]
        templated = {k: self._template(v, f"headers.{k}") for k, v in headers.items() if has_template(v)}
        static_headers = {**DEFAULT_HEADERS, **{k: v for k, v in headers.items() if k not in templated}}
        self.body = (
            self._json(json_body) if json_body is not None else (None if text_body is None else self._text(text_body))
        )
        request = httpx.Request(
            method,
            origin + "/",
            headers=octets(static_headers),
            json={} if json_body is not None else None,
            content=None if text_body is None else b"",
        )
        lines = [name + b": " + value for name, value in request.headers.raw if name.lower() != b"content-length"]
        self._head = b"\r\n".join(lines) + b"\r\n" if lines else b""
        self._headers = [(name, name.encode("latin-1") + b": ", value) for name, value in templated.items()]
        self._line = method.encode("ascii") + b" "
        self._length = self.body is not None or method in _WITH_BODY
        self.static = (
            not self.refs
            and self.path.is_static
            and not templated
            and (self.body is None or all(isinstance(p, str) for p in self.body))
        )
        self.raw: bytes | None = None
        if self.static:
            self.raw = self.build(None)

    def with_header_lines(self, lines: bytes) -> RequestTemplate:
        """This template with ``lines`` (complete header lines, the run's credentials) after its fixed headers."""
        template = copy.copy(self)
        template._head, template.raw = self._head + lines, None
        if template.static:
            template.raw = template.build(None)
        return template

    def build(self, session) -> bytes:
        """The request bytes for ``session`` (its variables, feeder rows, VU and iteration numbers)."""
        if self.raw is not None:
            return self.raw
        parts = [self._line, self.path.render(session, url_part).encode("ascii"), b" HTTP/1.1\r\n", self._head]
        for name, line, template in self._headers:
            value = template.render(session, header_value)
            try:
                parts += (line, value.encode("latin-1"), b"\r\n")
            except UnicodeEncodeError:
                raise EncodeError(
                    f"headers.{name}: the value has characters outside Latin-1, which an HTTP field value "
                    "cannot carry (RFC 9110; value not shown)"
                ) from None
        body = b""
        if self.body is not None:
            body = "".join(p if isinstance(p, str) else p(session) for p in self.body).encode()
        if self._length:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts += (b"\r\n", body)
        return b"".join(parts)

    def _template(self, source: str, where: str) -> Template:
        try:
            template = Template(source)
        except TemplateError as exc:
            raise TemplateError(f"{where}: {exc}") from None
        self.refs |= template.refs
        return template

    def _text(self, source: str) -> list:
        template = self._template(source, "body")
        return [source] if template.is_static else [template.render]

    def _json(self, value) -> list:
        """JSON text as literals and renderers: a string that is one whole ``{{ x }}`` becomes x's
        JSON (a number stays a number); templates inside longer strings are JSON-escaped text."""
        templates: list[Template] = []

        def mark(node):
            if isinstance(node, dict):
                return {k: mark(v) for k, v in node.items()}
            if isinstance(node, list):
                return [mark(v) for v in node]
            if isinstance(node, str) and has_template(node):
                templates.append(self._template(node, "json"))
                return f"\x00{len(templates) - 1}\x00"
            return node

        dumped = json.dumps(mark(value), separators=(",", ":"))
        parts: list = []
        at = 0
        for match in _SENTINEL.finditer(dumped):
            parts.append(dumped[at : match.start()])
            parts.append(_json_renderer(templates[int(match.group(1))]))
            at = match.end()
        parts.append(dumped[at:])
        return [p for p in parts if p != ""]


def _json_renderer(template: Template):
    whole = template.single
    if whole is not None:
        return lambda session: json.dumps(whole(session))
    parts = [json.dumps(p)[1:-1] if isinstance(p, str) else p for p in template.parts]
    return lambda session: '"' + "".join(p if isinstance(p, str) else json_string_part(p(session)) for p in parts) + '"'


def _split_origin(url: str) -> tuple[str, str]:
    """``("http://host:port", "/path?query")``; templates are allowed in the path only."""
    parts = urlsplit(url)
    if has_template(parts.scheme + parts.netloc):
        raise TemplateError(f"url: templates are allowed in the path and query only, not the host: {url!r}")
    path = url[len(parts.scheme) + 3 + len(parts.netloc) :] or "/"
    return f"{parts.scheme}://{parts.netloc}", path
