"""Versioned schema migrations: plain SQL files ``migrations/NNNN_name.sql``, applied once each.

Every run takes a transaction-level advisory lock, so concurrent workers apply each file exactly
once; an applied file whose text changed afterwards is refused (no silent schema drift).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import tuple_row

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x70657266  # "perf": one advisory lock id for every perfpipe migrator
_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS perfpipe;
CREATE TABLE perfpipe.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a badly named or duplicate file is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name {path.name!r} does not match NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"migration version {version:04d} appears twice ({path.name!r})")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


def apply_migrations(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the pending migrations in one transaction; returns the versions applied now."""
    migrations = load_migrations(directory)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        with conn.cursor(row_factory=tuple_row) as cur:
            if cur.execute("SELECT to_regclass('perfpipe.schema_migrations')").fetchone()[0] is None:
                cur.execute(_BOOTSTRAP)  # the ledger is the one object created outside a migration file
            applied = dict(cur.execute("SELECT version, checksum FROM perfpipe.schema_migrations").fetchall())
        done = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise RuntimeError(
                        f"migration {migration.version:04d}_{migration.name}.sql changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO perfpipe.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            done.append(migration.version)
    return done
