"""Opening connections to the inspected database, with bad DSNs reported clearly."""

from __future__ import annotations

import contextlib
from urllib.parse import unquote

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from include.perfpipe.dsn_option import KEYWORD_PASSWORD, URL_PASSWORD
from include.perfpipe.errors import ConfigError

APPLICATION_NAME = "perfpipe-db"


def redact(dsn: str, text: str | None = None) -> str:
    """``text`` (default: the DSN itself) with the DSN's password masked, also where libpq quoted it, or a
    piece of it, in an error message (a raw ``%`` in a URL password, a quoted keyword value)."""
    text = dsn if text is None else text
    secrets = {m.group(1) for m in URL_PASSWORD.finditer(dsn)}
    secrets |= {m.group(2).strip("'") for m in KEYWORD_PASSWORD.finditer(dsn)}
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        for form in {secret, unquote(secret), *secret.split()}:
            if len(form) >= 3:
                text = text.replace(form, "***")
    text = URL_PASSWORD.sub(lambda m: m.group(0).replace(m.group(1), "***") if m.group(1) else m.group(0), text)
    return KEYWORD_PASSWORD.sub(r"\1***", text)


def connect(dsn: str, *, application_name: str = APPLICATION_NAME, **kwargs) -> psycopg.Connection:
    """An autocommit connection with dict rows whose statements end with their client (``CLIENT_GONE_SQL``);
    a malformed DSN raises ``ValueError`` naming it."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise ConfigError(f"dsn: a libpq connection string or URL is required, got {dsn!r}")
    try:
        conn = psycopg.connect(
            dsn,
            autocommit=True,
            row_factory=dict_row,
            application_name=application_name,
            connect_timeout=kwargs.pop("connect_timeout", 10),
            **kwargs,
        )
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"dsn: invalid connection string {redact(dsn)!r}: {redact(dsn, str(exc))}") from exc
    if conn.info.server_version >= 140000:  # before 14 the setting does not exist
        conn.execute(CLIENT_GONE_SQL)
    return conn


# A killed task's process leaves its statement running on the server, with its locks, until the server next
# writes to the socket (a VACUUM writes nothing until it ends). Checked each second, a closed socket ends the
# statement at once; the keepalives find a vanished worker host within a minute.
CLIENT_GONE_SQL = (
    "SET client_connection_check_interval = 1000; SET tcp_keepalives_idle = 30; "
    "SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3"
)


@contextlib.contextmanager
def cancelled_when_interrupted(conn: psycopg.Connection):
    """Cancel the running statement when the block ends in an exception other than a database error: an
    Airflow ``execution_timeout`` (``AirflowTaskTimeout``) or a signal raised into the task. psycopg cancels on
    KeyboardInterrupt and SystemExit only; the rest would leave the statement to run on."""
    try:
        yield
    except psycopg.Error:
        raise
    except BaseException:
        if not conn.closed and conn.info.transaction_status == TransactionStatus.ACTIVE:
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=5)
        raise


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
