"""Shards of one run stop together through the results database (``store.AbortSignal``), on loopback.

Each run is set for 30 s; a stopped shard must end well before that (loose bounds only).
"""

import threading
import time

import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.store import AbortSignal
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration
P95_BELOW_1MS = {"class_name": "all", "metric": "p95_ms", "operator": "<", "limit": 1, "window_s": 1, "delay_s": 1}


@pytest.fixture(scope="module")
def results_dsn(scratch_db):
    return scratch_db("perfabort_shards")


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


def _spec(server, abort_rules=()):
    return load_spec(
        "smoke", server.url("/sleep/30"), overrides={"vus": 2, "duration": "30s", "abort_rules": list(abort_rules)}
    )


def _run_shard(spec, dsn, run_id, index, start_at, processes=1):
    """One shard as the DAG's load_test task runs it: its own signal, raised when its rules trip."""
    with AbortSignal(dsn, "perf_load", run_id, since=start_at) as signal:
        return run_load_test(
            spec,
            processes=processes,
            shard_index=index,
            shard_count=2,
            start_at=start_at,
            should_stop=signal.should_stop,
            on_abort=lambda reason: signal.raise_abort(reason, index),
        )


def test_a_shard_that_aborts_stops_the_other(server, results_dsn):
    start_at, results = time.time() + 1, {}
    specs = {0: _spec(server, [P95_BELOW_1MS]), 1: _spec(server)}  # only shard 0 trips

    def shard(index):
        results[index] = _run_shard(specs[index], results_dsn, "two-threads", index, start_at)

    threads = [threading.Thread(target=shard, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results[0].aborted and results[0].abort_reason.startswith("abort_on_fail: p95_ms")
    assert results[1].aborted and results[1].abort_reason == f"stopped: shard 0 aborted: {results[0].abort_reason}"
    assert results[1].duration_s < 10 and time.time() - start_at < 20


def test_several_processes_stop_when_another_shard_aborts(server, results_dsn):
    start_at = time.time() + 3  # two worker processes start first
    other_shard = AbortSignal(results_dsn, "perf_load", "processes")
    raiser = threading.Timer(start_at + 1 - time.time(), other_shard.raise_abort, args=("target on fire", 1))
    raiser.start()
    result = _run_shard(_spec(server), results_dsn, "processes", 0, start_at, processes=2)
    raiser.join()
    assert result.health["processes"] == 2
    assert result.aborted and result.abort_reason == "stopped: shard 1 aborted: target on fire"
    assert result.duration_s < 10


def test_a_process_that_aborts_reports_its_reason_to_on_abort(server):
    reasons = []
    result = run_load_test(_spec(server, [P95_BELOW_1MS]), processes=2, on_abort=reasons.append)
    assert result.aborted and result.duration_s < 10
    assert reasons and all(r.startswith("abort_on_fail: p95_ms") for r in reasons)
