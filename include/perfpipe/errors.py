"""One family for every error the user can mend: bad configuration, a refused or unreachable target,
a database or the results store out of reach.

Each names what it is about (``file``, ``field``, ``value``) so the message alone says what to fix.
Preflight refuses a ``PerfpipeError`` at once (a retry would not mend it) and lets anything else,
a bug, surface and be retried; the CLI prints it on one line and exits 3 (``error``).
``ConfigError`` is also a ``ValueError``, so callers that catch bad values keep working.
"""

from __future__ import annotations

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
        shown = "" if value is _UNSET or repr(value) in message else f" (got {value!r})"
        super().__init__(": ".join([*parts, message]) + shown)


class ConfigError(PerfpipeError, ValueError):
    """A scenario, profile, threshold or query file, a CLI flag or a Param is malformed."""


class TargetError(PerfpipeError):
    """The service under test is refused (allowlist) or cannot be reached."""


class DatabaseError(PerfpipeError):
    """The target database cannot be reached or refuses what the stage needs."""


class StoreError(PerfpipeError):
    """The results store cannot be reached or written."""


def from_validation(error: ValidationError, file: object = None, prefix: str = "") -> ConfigError:
    """A ``ConfigError`` for a pydantic ``ValidationError``: each problem as ``field: message (got value)``,
    joined by ``; ``; ``field``/``value`` of the error are those of the first problem."""
    problems = []
    for problem in error.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"]).lstrip(".")
        field = ".".join(part for part in (prefix, loc) if part) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        got = "" if problem["type"] == "missing" else f" (got {problem.get('input')!r})"
        problems.append((field, problem.get("input"), f"{field}: {message}{got[:120]}"))
    error = ConfigError("; ".join(line for _, _, line in problems), file=file)
    error.field, error.value = problems[0][:2]
    return error


def one_line(error: BaseException) -> str:
    """The error's text on one line (a message with one line per problem joined by ``; ``)."""
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
