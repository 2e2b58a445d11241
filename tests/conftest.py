"""Shared fixtures: a real PostgreSQL (``$PERFPIPE_DB_URL`` or the embedded cluster) and the demo service."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration once, at first import: point it at a throwaway home before any test does.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="perfpipe-airflow-")
os.environ.update(
    {
        "AIRFLOW_HOME": _AIRFLOW_HOME,
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
)


def migrated_airflow_home(tmp_path_factory, *, target_db: str, results_db: str) -> dict:
    """Environment of a fresh Airflow home (SQLite metadata DB, migrated) for ``dag.test()`` runs in a child
    interpreter, with the target and results DB connections the DAGs use."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow-home")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_PERF_TARGET_DB": target_db,
        "AIRFLOW_CONN_PERF_RESULTS_DB": results_db,
        "PERFPIPE_REPORTS_DIR": str(tmp_path_factory.mktemp("reports")),
        "PERFPIPE_CONFIG_DIRS": str(tmp_path_factory.getbasetemp()),  # the tests' scenario and query files
    }
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, capture_output=True, cwd=ROOT, timeout=300)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_db_was_running = pytest.StashKey[bool]()


def pytest_sessionstart(session) -> None:
    """Under pytest-xdist (make test) the workers share the embedded cluster: whichever needs it first starts it,
    and the controller, after the last worker, stops it if it was not running before."""
    if session.config.pluginmanager.has_plugin("dsession") and not os.environ.get("PERFPIPE_DB_URL"):
        from include.perfpipe import embedded_db

        session.config.stash[_db_was_running] = embedded_db.is_running(embedded_db.default_port(ROOT / ".pgdata"))


def pytest_sessionfinish(session) -> None:
    if session.config.stash.get(_db_was_running, True) is False:
        from include.perfpipe import embedded_db

        embedded_db.stop_embedded_postgres(ROOT / ".pgdata")


@pytest.fixture(scope="session")
def db_server_url() -> str:
    """URL of a database on a real server: $PERFPIPE_DB_URL, else the embedded cluster (started if needed)."""
    url = os.environ.get("PERFPIPE_DB_URL")
    if url:
        yield url
        return
    from include.perfpipe import embedded_db

    port = embedded_db.default_port(ROOT / ".pgdata")
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one worker at a time starts it (and initdb, on a fresh clone)
        with open(Path(tempfile.gettempdir()) / f"perfpipe-pgdata-{port}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            url = embedded_db.ensure_embedded_postgres(ROOT / ".pgdata")
        yield url
        return
    was_running = embedded_db.is_running(port)
    url = embedded_db.ensure_embedded_postgres(ROOT / ".pgdata")
    yield url
    if not was_running:
        embedded_db.stop_embedded_postgres(ROOT / ".pgdata")


def query_rows(dsn: str, query: str, params: list | None = None) -> list[tuple]:
    """The rows one query answers on ``dsn``, on a connection of its own."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture(scope="session")
def scratch_db(db_server_url: str):
    """A factory of empty databases on the test server (as URLs), dropped at the end of the session."""
    import psycopg
    from psycopg import sql

    created: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}_{os.getpid()}_{len(created)}"
        with psycopg.connect(db_server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return urlsplit(db_server_url)._replace(path=f"/{name}").geturl()

    yield make
    with psycopg.connect(db_server_url, autocommit=True) as admin:
        for name in created:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def running_demo_service(db_url: str, **env: str):
    """The demo service in a child process on a free loopback port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "include.demo_service", "--port", str(port), "--db-url", db_url],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"demo service exited with {proc.returncode}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "demo service did not become healthy in 60 s"
            time.sleep(0.3)
        yield base_url
    finally:
        proc.terminate()
        proc.wait(15)


@pytest.fixture(scope="session")
def demo_db_url(scratch_db) -> str:
    return scratch_db("perfpipe_demo")


@pytest.fixture(scope="session")
def demo_service(demo_db_url: str) -> str:
    with running_demo_service(demo_db_url) as base_url:
        yield base_url
