"""One family for every error the user can mend: bad configuration, a refused or unreachable target,
a database or the results store out of reach.

Each names what it is about (``file``, ``field``, ``value``) so the message alone says what to fix. A value
read from a file is shown by its kind only (``got a string``): the file may hold what no message should repeat.
Preflight refuses a ``PerfpipeError`` at once (a retry would not mend it) and lets anything else,
a bug, surface and be retried; the CLI prints it on one line and exits 3 (``error``).
``ConfigError`` is also a ``ValueError``, so callers that catch bad values keep working.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

_UNSET = object()


class PerfpipeError(Exception):
    """Something outside the code is wrong; ``str()`` is the whole explanation."""

    def __init__(self, message: str, *, file: object = None, field: str | None = None, value: object = _UNSET):
        self.message, self.file, self.field = message, None if file is None else str(file), field
        self.value = None if value is _UNSET else value
        parts = [part for part in (self.file, field) if part and not message.startswith(f"{part}:")]
        shown = "" if value is _UNSET or repr(value) in message else f" (got {kind(value) if file else repr(value)})"
        super().__init__(": ".join([*parts, message]) + shown)


class ConfigError(PerfpipeError, ValueError):
    """A scenario, profile, threshold or query file, a CLI flag or a Param is malformed."""


class TargetError(PerfpipeError):
    """The service under test is refused (allowlist) or cannot be reached."""


class DatabaseError(PerfpipeError):
    """The target database cannot be reached or refuses what the stage needs."""


class StoreError(PerfpipeError):
    """The results store cannot be reached or written."""


_GOT = re.compile(r"[,;:]?\s*\(?\bgot\b.*$")  # a validator's "..., got 'value'": the value is not repeated


def without_value(message: str) -> str:
    """``message`` without a trailing ``got <value>`` (a validator's, about a value read from a file)."""
    return _GOT.sub("", message)


def kind(value: object) -> str:
    """What a value is, without its content: ``a string``, ``a number``, ``a mapping`` ..."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number" if math.isfinite(value) else "a number that is not finite"
    if isinstance(value, str):
        return "a string" if value else "an empty string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def from_validation(error: ValidationError, file: object = None, prefix: str = "", document=None) -> ConfigError:
    """A ``ConfigError`` for a pydantic ``ValidationError``: each problem as ``field: message (got <kind>)``,
    with the line and column when ``document`` (``config_files.Document``) is given, joined by ``; ``.
    ``field``/``value`` of the error are those of the first problem. The values are never repeated."""
    problems = []
    for problem in error.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"]).lstrip(".")
        field = ".".join(part for part in (prefix, loc) if part) or "(top level)"
        problems.append((field, problem.get("input"), f"{field}: {problem_text(problem, document, prefix)}"))
    error = ConfigError("; ".join(line for _, _, line in problems), file=file)
    error.field, error.value = problems[0][:2]
    return error


def problem_text(problem: dict, document=None, prefix: str = "", *, unknown: str = "unknown field") -> str:
    """One pydantic problem as ``message (got <kind>; line L, column C)``: never the value itself."""
    message = without_value(problem["msg"].removeprefix("Value error, "))
    if problem["type"] in ("extra_forbidden", "unexpected_keyword_argument"):  # a model's, a dataclass's
        message = unknown
    notes = [] if problem["type"] == "missing" else [f"got {kind(problem.get('input'))}"]
    if document is not None:
        where = document.position((*(p for p in prefix.split(".") if p), *problem["loc"]))
        notes += [where] if where else []
    return message + (f" ({'; '.join(notes)})" if notes else "")


def one_line(error: BaseException) -> str:
    """The error's text on one line (a message with one line per problem joined by ``; ``)."""
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
