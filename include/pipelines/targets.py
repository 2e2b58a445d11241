"""Resolve what a run talks to from Airflow connections and variables."""

from __future__ import annotations

import contextlib

from include.perfpipe.errors import ConfigError, DatabaseError
from include.perfpipe.vocabulary import ALLOWLIST_VARIABLE, CONFIG_DIRS_VARIABLE, libpq_dsn

DB_APPLY_ALLOWLIST_VARIABLE = "perfpipe_db_apply_allowlist"


def http_target(conn_id: str) -> tuple[str, dict[str, str]]:
    """Base URL and credential headers of an HTTP connection (login/password become basic auth, the
    extra's "headers" are added).

    The headers are credentials: callers hand them to the engine only (``runs.run_shard(credentials=)``)
    and record their names; secret-looking values are registered with Airflow's secrets masker here.
    """
    from airflow.sdk.bases.hook import BaseHook
    from airflow.sdk.log import mask_secret

    from include.perfpipe.loadtest.http.credentials import basic_auth, checked_headers, looks_secret

    conn = BaseHook.get_connection(conn_id)
    if not conn.host:
        raise ConfigError(f"connection {conn_id!r} has no host: set it to the base URL of the service under test")
    scheme = conn.schema or ("https" if conn.conn_type == "https" else "http")
    host = conn.host if "://" not in conn.host else conn.host.split("://", 1)[1]
    if "@" in host.split("/", 1)[0]:
        raise ConfigError(f"connection {conn_id!r}: credentials in the host; set them as the login and password")
    base_url = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    headers = checked_headers(conn.extra_dejson.get("headers", {}), f"connection {conn_id!r} extra.headers")
    if conn.login:
        headers.setdefault("Authorization", basic_auth(conn.login, conn.password or ""))
    for name, value in headers.items():
        if looks_secret(name):
            mask_secret(value)
            mask_secret(value.partition(" ")[2] or value)  # the token without its scheme ("Basic ...")
    if conn.password:
        mask_secret(conn.password)
    return base_url.rstrip("/"), headers


def connection_credentials(conn_id: str | None) -> dict[str, str]:
    """A task's credential source for ``runs.run_shard``: the headers of the connection a spec names."""
    return http_target(conn_id)[1] if conn_id else {}


def postgres_dsn(conn_id: str) -> str:
    """A libpq URL for a Postgres connection, through the postgres provider's hook.

    The hook answers with an SQLAlchemy URL (``postgresql+psycopg://``); libpq wants ``postgresql://``.
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return libpq_dsn(PostgresHook(postgres_conn_id=conn_id).get_uri())


@contextlib.contextmanager
def database_of(conn_id: str):
    """Re-raise a lost or refused database connection as a ``DatabaseError`` in one line naming the Airflow
    connection; the task's retries (with backoff) try again."""
    import psycopg

    try:
        yield
    except psycopg.OperationalError as exc:
        message = " ".join(str(exc).split())  # libpq's hint comes on a line of its own
        raise DatabaseError(f"database of connection {conn_id!r} is unreachable: {message}") from exc


def _csv_variable(name: str, default: str) -> list[str]:
    from airflow.sdk import Variable

    return [item.strip() for item in Variable.get(name, default=default).split(",") if item.strip()]


def target_allowlist() -> list[str]:
    """Hosts a load test may target: the Airflow Variable first, in ``http.target.resolve_allowlist``'s chain."""
    from airflow.sdk import Variable

    from include.perfpipe.loadtest.http.target import resolve_allowlist

    return resolve_allowlist(variable=Variable.get(ALLOWLIST_VARIABLE, default=None))


def config_folders() -> list:
    """Folders scenario and query files may come from: include/config/ and the Airflow Variable's, else
    ``$PERFPIPE_CONFIG_DIRS``'s (``config_files.config_dirs``)."""
    from airflow.sdk import Variable

    from include.perfpipe.config_files import config_dirs

    return config_dirs(Variable.get(CONFIG_DIRS_VARIABLE, default=None))


def db_apply_allowlist() -> list[str]:
    """Tables and indexes whose recommended index changes may be applied (empty: none, advice only)."""
    return _csv_variable(DB_APPLY_ALLOWLIST_VARIABLE, "")
