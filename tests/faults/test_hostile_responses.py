"""Fault matrix row 21: a gzip bomb (issue 23, finding 3). ``max_body_bytes`` caps a kept body as
received and as decoded: 16 MB of zeros, 16 KB gzip-encoded on the wire, to a step with a check, a
flat endpoint with a check function and a Python journey, each fails as ``BodyTooLarge`` under a 1 MB
cap, and the VUs go on. (Peak memory: ``python -m benchmarks.hostile``, docs/RELIABILITY.md.)"""

import json

import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration
BOMB = "/gzip-bomb/16"
SCENARIOS = {
    "step with a check": f"endpoints:\n  - {{name: bomb, path: {BOMB}, checks: [{{body_contains: x}}]}}\n",
    "check function": f"endpoints:\n  - {{name: bomb, path: {BOMB}, check: 'tests.faults.journeys:any_body'}}\n",
    "python journey": "journey: 'tests.faults.journeys:read_gzip_bomb'\n",
}


@pytest.fixture(scope="module")
def server():
    with LoopbackServer() as server:
        yield server


@pytest.mark.parametrize("kind", SCENARIOS)
def test_a_gzip_bomb_fails_as_body_too_large(server, tmp_path, kind):
    (tmp_path / "s.yaml").write_text(SCENARIOS[kind])
    spec = load_spec(
        "smoke",
        server.url(""),
        tmp_path / "s.yaml",
        allowlist=["127.0.0.1"],
        overrides={"vus": 1, "duration": "500ms", "timeout": "5s", "max_body_bytes": 1 << 20, "circuit_breaker": {}},
    )
    result = run_load_test(spec, processes=1)
    row = result.stats_frame().set_index("name").loc["bomb"]
    statuses = json.loads(row["status_counts"]) if isinstance(row["status_counts"], str) else row["status_counts"]
    assert set(statuses) == {"BodyTooLarge"} and row["count"] >= 2, statuses  # failed, and the VU went on
