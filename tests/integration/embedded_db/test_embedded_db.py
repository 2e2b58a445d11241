"""The embedded default database: starts on loopback with pg_stat_statements, restarts on its data, stops."""

import psycopg
import pytest

from include.perfpipe import embedded_db
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def test_start_reuse_and_stop(tmp_path):
    data_dir, port = tmp_path / "pgdata", free_port()
    dsn = embedded_db.ensure_embedded_postgres(data_dir, port)
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SHOW shared_preload_libraries").fetchone()[0] == "pg_stat_statements"
            assert conn.execute("SELECT count(*) >= 0 FROM pg_stat_statements").fetchone()[0] is True
            conn.execute("CREATE TABLE kept (id int)")
            conn.commit()
        databases = {row[0] for row in psycopg.connect(dsn).execute("SELECT datname FROM pg_database")}
        assert set(embedded_db.DATABASES) <= databases
        assert embedded_db.ensure_embedded_postgres(data_dir, port) == dsn  # running: reused as it is
        assert embedded_db.stop_embedded_postgres(data_dir)
        assert not embedded_db.is_running(port)
        embedded_db.ensure_embedded_postgres(data_dir, port)  # stopped: restarted on the same data
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone()[0] is True
    finally:
        embedded_db.stop_embedded_postgres(data_dir)


def test_each_checkout_has_its_own_port(tmp_path):
    first, second = tmp_path / "a" / ".pgdata", tmp_path / "b" / ".pgdata"
    assert embedded_db.default_port(first) == embedded_db.default_port(first)
    assert embedded_db.default_port(first) != embedded_db.default_port(second)
    assert 40000 <= embedded_db.default_port(first) < 50000
