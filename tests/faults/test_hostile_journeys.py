"""Fault matrix row 20: a Python journey that swallows the end of the test (issue 23, finding 2).

``benchmarks.hostile:swallow`` catches ``Exception`` around every request and goes on; ``swallow_all``
catches everything (a bare ``except``). Each runs 1 s against a loopback server from a thread the test
waits for with a timeout: the run must end by its wall deadline with what it recorded. (Before the fix
it never ended: the thread is left spinning.) A worker process runs its part with the same code
(``runner.run_part``), so it ends by itself before its parent's deadline would kill it."""

import threading
from datetime import datetime

import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.loadtest.engine.generator import CANCEL_GRACE_S
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration
DRAIN_S = 2.0  # the runs' timeout, so their drain
SLACK_S = 5.0  # a busy machine's scheduling delays: well below the hang this catches (never ended)


@pytest.mark.parametrize("journey", ["swallow", "swallow_all"])
def test_a_journey_that_swallows_the_end_of_the_test_ends_by_the_deadline_with_what_it_recorded(journey, tmp_path):
    (tmp_path / "s.yaml").write_text(f"journey: 'benchmarks.hostile:{journey}'\n")
    with LoopbackServer() as server:
        spec = load_spec(
            "smoke",
            server.url(""),
            scenario=tmp_path / "s.yaml",
            allowlist=["127.0.0.1"],
            overrides={"vus": 2, "duration": "1s", "timeout": f"{DRAIN_S:g}s"},
        )
        ended: list = []
        runner = threading.Thread(target=lambda: ended.append(run_load_test(spec, processes=1)), daemon=True)
        runner.start()
        runner.join(60)
        served = server.requests
    assert ended, "the run had not ended 60 s after it started"
    result = ended[0]
    took = datetime.fromisoformat(result.ended_at) - datetime.fromisoformat(result.started_at)
    assert took.total_seconds() < 1 + DRAIN_S + CANCEL_GRACE_S + SLACK_S, took
    # nothing lost or doubled: every request recorded was served; at most one a VU cut in flight
    recorded = int(result.stats_frame().set_index("name").loc["all", "count"])
    assert 0 < recorded <= served <= recorded + 2, (recorded, served)
    if journey == "swallow_all":  # it went on after being cancelled: left behind, and the run says so
        assert any("left behind" in note for note in result.health["notes"]), result.health
