"""Templates in paths, headers and bodies: ``{{ expression }}``, parsed and compiled once.

Expressions: ``vu``, ``iteration``, ``uuid``, ``now`` (epoch s), ``now_ms``, ``now_iso``,
``random_int(a, b)`` (inclusive), ``random_choice(a, b, ...)``, a VU variable ``name`` and a
feeder field ``feeder.column``. A compiled template is a tuple of literal strings and getters
(``session -> value``); rendering joins them with an encoder chosen by where the template sits
(URL-encoded in a path, checked for CR/LF in a header, JSON-encoded in a JSON body).
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

_FIELD = re.compile(r"\{\{(.*?)\}\}", re.S)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CALL = re.compile(r"([a-z_]+)\((.*)\)", re.S)
BUILTINS = frozenset({"vu", "iteration", "uuid", "now", "now_ms", "now_iso"})
FUNCTIONS = frozenset({"random_int", "random_choice"})

Getter = Callable[[object], object]  # session -> value


class TemplateError(ValueError):
    """A template that cannot be parsed (at load time) or rendered (a variable not set yet)."""


class EncodeError(TemplateError):
    """A rendered value that the request cannot carry (a header value outside Latin-1)."""


class Template:
    """``parts``: literal strings and getters, in order; ``refs``: the variable and feeder names used."""

    __slots__ = ("source", "parts", "refs")

    def __init__(self, source: str) -> None:
        self.source = source
        self.parts: list[str | Getter] = []
        self.refs: set[str] = set()  # "name" for variables, "feeder.column" for feeder fields
        at = 0
        for match in _FIELD.finditer(source):
            if match.start() > at:
                self.parts.append(source[at : match.start()])
            self.parts.append(self._compile(match.group(1).strip()))
            at = match.end()
        if "{{" in source[at:] or "}}" in source[at:]:
            raise TemplateError(f"unbalanced '{{{{' or '}}}}' in {source!r}")
        if at < len(source):
            self.parts.append(source[at:])

    @property
    def is_static(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def single(self) -> Getter | None:
        """The getter when the whole template is one expression (a JSON value keeps its type)."""
        return self.parts[0] if len(self.parts) == 1 and not isinstance(self.parts[0], str) else None

    def render(self, session, encode: Callable[[object], str] = None) -> str:
        encode = encode or text
        return "".join([p if p.__class__ is str else encode(p(session)) for p in self.parts])

    def _compile(self, expr: str) -> Getter:
        if expr in BUILTINS:
            return _BUILTIN_GETTERS[expr]
        call = _CALL.fullmatch(expr)
        if call:
            return _function(call.group(1), _arguments(call.group(2), expr), expr)
        head, _, field = expr.partition(".")
        if not _NAME.fullmatch(head) or (field and not _NAME.fullmatch(field)):
            raise TemplateError(
                f"expected a variable, feeder.column, {sorted(BUILTINS)} or "
                f"{sorted(FUNCTIONS)}(...), got {{{{ {expr} }}}}"
            )
        if field:
            self.refs.add(expr)
            return _feeder_field(head, field)
        self.refs.add(head)
        return _variable(head)


def _arguments(raw: str, expr: str) -> list:
    values = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            raise TemplateError(f"empty argument in {{{{ {expr} }}}}")
        if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
            values.append(item[1:-1])
        elif re.fullmatch(r"-?\d+", item):
            values.append(int(item))
        else:
            values.append(item)
    return values


def _function(name: str, args: list, expr: str) -> Getter:
    if name == "random_int":
        if len(args) != 2 or not all(isinstance(a, int) for a in args) or args[0] > args[1]:
            raise TemplateError(f"random_int: expected two integers low <= high, got {{{{ {expr} }}}}")
        low, high = args
        return lambda _s: random.randint(low, high)
    if name == "random_choice":
        choices = tuple(args)
        return lambda _s: random.choice(choices)
    raise TemplateError(f"unknown function {name!r} in {{{{ {expr} }}}}; known: {sorted(FUNCTIONS)}")


def _variable(name: str) -> Getter:
    def get(session):
        try:
            return session.vars[name]
        except KeyError:
            raise TemplateError(f"variable {name!r} is not set") from None

    return get


def _feeder_field(feeder: str, column: str) -> Getter:
    def get(session):
        row = session.rows.get(feeder)
        if row is None:
            raise TemplateError(f"no row of feeder {feeder!r} yet")
        return row[column]

    return get


_BUILTIN_GETTERS: dict[str, Getter] = {
    "vu": lambda s: s.number,
    "iteration": lambda s: s.iteration,
    "uuid": lambda _s: str(uuid.uuid4()),
    "now": lambda _s: int(time.time()),
    "now_ms": lambda _s: int(time.time() * 1000),
    "now_iso": lambda _s: datetime.now(UTC).isoformat(timespec="milliseconds"),
}


# -- encoders: how a value is written where the template sits ------------------------------------
def text(value) -> str:
    """A value as text: strings as they are, anything else as JSON (``true``, ``1.5``, ``{...}``)."""
    return value if isinstance(value, str) else json.dumps(value)


def literal_url_part(source: str) -> str:
    """A path's literal text as a browser sends it: non-ASCII characters, spaces and the other characters
    a URL may not hold percent-encoded (UTF-8), the reserved ones and existing ``%XX`` escapes kept."""
    return quote(source, safe="!#$%&'()*+,/:;=?@[]~")


def url_part(value) -> str:
    if value.__class__ is int:  # the usual id: nothing to quote
        return str(value)
    return quote(text(value), safe="")


def header_value(value) -> str:
    value = text(value)
    if "\r" in value or "\n" in value or "\x00" in value:
        raise TemplateError("a header value may not contain CR or LF, nor NUL (value not shown)")
    return value


def json_string_part(value) -> str:
    return json.dumps(text(value))[1:-1]


def has_template(value: str) -> bool:
    return "{{" in value
