"""Real servers for the database stage: the system PostgreSQL 15 and an embedded PostgreSQL 18
(pg_stat_statements preloaded) in a pytest temp dir. Tests get scratch databases named ``perfdb_*``.

``hypopg_server``: a private cluster of the system's PostgreSQL 15 installation (Debian postgresql-15 with
postgresql-15-hypopg, tests/system-packages.txt) with pg_stat_statements preloaded, which the shared server
at 5432 lacks and may not be restarted for. It fails, never skips, when PostgreSQL 15 or HypoPG is missing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

SYSTEM_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
SYSTEM_PG_BIN = Path("/usr/lib/postgresql/15/bin")
HYPOPG_PACKAGE = "postgresql-15-hypopg"


@dataclass
class Server:
    name: str
    admin_dsn: str
    statements: bool  # pg_stat_statements preloaded

    def dsn(self, database: str) -> str:
        return self.admin_dsn.rsplit("/", 1)[0] + "/" + database

    @contextmanager
    def scratch(self, label: str, setup_sql: str = ""):
        """A fresh ``perfdb_<label>_<random>`` database (dropped afterwards), set up by ``setup_sql``: statements
        ending in ``;`` + newline, each run on its own (autocommit, so VACUUM works)."""
        name = f"perfdb_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            if setup_sql:
                run_and_close(self.dsn(name), [s for s in setup_sql.split(";\n") if s.strip()])
            yield self.dsn(name)
        finally:
            with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", params=["pg15", "pg18"])
def server(request) -> Server:
    if request.param == "pg15":
        try:
            psycopg.connect(SYSTEM_PG, connect_timeout=3).close()
        except psycopg.OperationalError as exc:
            pytest.skip(f"system PostgreSQL 15 unreachable: {exc}")
        return Server("pg15", SYSTEM_PG, statements=False)
    embedded = pytest.importorskip("include.perfpipe.embedded_db")
    # not under pytest's basetemp: concurrent pytest sessions prune each other's old basetemp dirs
    root = Path(tempfile.mkdtemp(prefix="perfdb_pg18_"))

    def stop():
        embedded.stop_embedded_postgres(root / "data")
        shutil.rmtree(root, ignore_errors=True)

    request.addfinalizer(stop)
    dsn = embedded.ensure_embedded_postgres(root / "data", _free_port())
    return Server("pg18", dsn.rsplit("/", 1)[0] + "/postgres", statements=True)


class MissingServer(RuntimeError):
    """PostgreSQL 15 or HypoPG is not installed: a fixture fails on it, never skips."""


@contextmanager
def system_pg15_cluster():
    """A private cluster of the system's PostgreSQL 15 (free port, temp dir, pg_stat_statements preloaded,
    HypoPG available); yields its ``Server``. Raises ``MissingServer`` naming the package to install."""
    if not (SYSTEM_PG_BIN / "initdb").exists():
        raise MissingServer(f"PostgreSQL 15 binaries missing in {SYSTEM_PG_BIN}: apt-get install postgresql-15")
    root = Path(tempfile.mkdtemp(prefix="perfdb_hypopg_"))
    data = root / "data"
    run_as = {"user": "postgres"} if os.geteuid() == 0 else {}
    if run_as:
        shutil.chown(root, "postgres")

    def pg(*args: str, check: bool = True) -> None:
        subprocess.run([str(SYSTEM_PG_BIN / args[0]), *args[1:]], check=check, capture_output=True, **run_as)

    try:
        pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=utf8")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nfsync = off\n"
                "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = 'all'\n"
            )
        port = _free_port()
        pg("pg_ctl", "-D", str(data), "-l", str(root / "server.log"), "-o", f"-p {port}", "-w", "-t", "60", "start")
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin) as conn:
            if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'").fetchone() is None:
                raise MissingServer(
                    f"HypoPG is not installed for PostgreSQL 15: apt-get install -y {HYPOPG_PACKAGE} "
                    "(listed in tests/system-packages.txt)"
                )
        yield Server("pg15-hypopg", admin, statements=True)
    finally:
        if (data / "postmaster.pid").exists():
            pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def hypopg_server() -> Server:
    """PostgreSQL 15 from the system installation, HypoPG available, pg_stat_statements preloaded."""
    try:
        with system_pg15_cluster() as server:
            yield server
    except MissingServer as exc:
        pytest.fail(str(exc))


def run_and_close(dsn: str, statements: list[str], repeat: int = 1) -> None:
    """Run statements on a separate connection, flush its statistics and close it.

    The flush is forced before the close returns: a closing backend flushes its counts as it exits, after the
    client has gone on, so a fresh database's 20,000 inserts once landed after the next connection's VACUUM and
    read as inserted since it (stale_vacuum on the clean database, CI on pg15, 2026-12-07)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(repeat):
            for statement in statements:
                conn.execute(statement)
        conn.execute("SELECT pg_stat_force_next_flush()")  # flushed before the reply (PostgreSQL 15+)


def by_check(findings: list[dict], check: str) -> dict[str, dict]:
    return {f["object"]: f for f in findings if f["check"] == check}
