"""Opening connections to the inspected database, with bad DSNs reported clearly."""

from __future__ import annotations

import re
from urllib.parse import unquote

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from include.perfpipe.errors import ConfigError

APPLICATION_NAME = "perfpipe-db"


_URL_PASSWORD = re.compile(r"://[^/?#]*?:([^/?#]*)@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)")


def redact(dsn: str, text: str | None = None) -> str:
    """``text`` (default: the DSN itself) with the DSN's password masked, also where libpq quoted it, or a
    piece of it, in an error message (a raw ``%`` in a URL password, a quoted keyword value)."""
    text = dsn if text is None else text
    secrets = {m.group(1) for m in _URL_PASSWORD.finditer(dsn)}
    secrets |= {m.group(2).strip("'") for m in _KEYWORD_PASSWORD.finditer(dsn)}
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        for form in {secret, unquote(secret), *secret.split()}:
            if len(form) >= 3:
                text = text.replace(form, "***")
    text = _URL_PASSWORD.sub(lambda m: m.group(0).replace(m.group(1), "***") if m.group(1) else m.group(0), text)
    return _KEYWORD_PASSWORD.sub(r"\1***", text)


def connect(dsn: str, *, application_name: str = APPLICATION_NAME, **kwargs) -> psycopg.Connection:
    """An autocommit connection with dict rows; a malformed DSN raises ``ValueError`` naming it."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise ConfigError(f"dsn: a libpq connection string or URL is required, got {dsn!r}")
    try:
        return psycopg.connect(
            dsn,
            autocommit=True,
            row_factory=dict_row,
            application_name=application_name,
            connect_timeout=kwargs.pop("connect_timeout", 10),
            **kwargs,
        )
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"dsn: invalid connection string {redact(dsn)!r}: {redact(dsn, str(exc))}") from exc


def session_timeouts(lock_timeout_s: float, statement_timeout_s: float | None) -> str:
    """libpq ``options`` that bound every wait of the session: a lock after ``lock_timeout_s``, a statement
    after ``statement_timeout_s`` (None or 0: no statement bound)."""
    return f"-c lock_timeout={int(lock_timeout_s * 1000)} -c statement_timeout={int((statement_timeout_s or 0) * 1000)}"


def qualified(schema: str, name: str) -> sql.Composed:
    """``schema.name`` as two quoted identifiers."""
    return sql.SQL(".").join([sql.Identifier(schema), sql.Identifier(name)])


def render(conn: psycopg.Connection, statement: sql.Composable) -> str:
    """The SQL text of a composed statement, for recommendations."""
    return statement.as_string(conn)
