"""A results store that accepts TCP connections but never answers (a hung server, a full backlog): the store
gives up after its connect_timeout, and the reports page falls back to the report folders on disk after
its own, shorter one, instead of libpq's default wait of about two minutes."""

import socket
import time

import psycopg
import pytest

from include.perfpipe.store import ResultsStore
from tests.unit.plugin.conftest import PLUGINS  # noqa: F401 - puts plugins/ on sys.path, as Airflow does


@pytest.fixture
def silent_server():
    """A loopback port whose connections are queued by the kernel and never served."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"postgresql://perfpipe@127.0.0.1:{server.getsockname()[1]}/results"


def test_the_results_store_gives_up_after_its_connect_timeout(silent_server):
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="timeout"):
        ResultsStore(silent_server, connect_timeout_s=1).list_runs(10)
    assert time.monotonic() - started < 5


def test_the_reports_page_falls_back_to_disk_after_its_connect_timeout(silent_server, tmp_path):
    from perfpipe_reports.runs import PAGE_CONNECT_TIMEOUT_S, list_runs
    from perfpipe_reports.storage import ReportsTree

    started = time.monotonic()
    runs, notice = list_runs(ReportsTree(tmp_path), silent_server)
    assert runs == [] and "unavailable" in notice
    assert time.monotonic() - started < PAGE_CONNECT_TIMEOUT_S + 3
