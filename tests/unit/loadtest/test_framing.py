"""Whole runs against a server with one path per framing case: the outcome, the run's end, memory.

The valid cases share one run and the hostile ones another (an endpoint per case); each unbounded
case has its own. A run must end by its duration plus the drain (at most the timeout) plus slack.
"""

import json
import time
import tracemalloc

import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from tests.unit.loadtest.framing import HOSTILE, UNTIL_CLOSE, VALID
from tests.unit.loadtest.server import LoopbackServer

SLACK_S = 2.0
CHECK = "tests.unit.loadtest.test_framing:says_hello"


@pytest.fixture(scope="module")
def server():
    with LoopbackServer() as srv:
        yield srv


def says_hello(response) -> bool:
    return response.content in (b"hello", b"")


def _run(server, tmp_path, endpoints: list[str], timeout="2s", vus=2, **overrides):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("endpoints:\n" + "".join(f"  - {e}\n" for e in endpoints))
    spec = load_spec(
        "smoke",
        server.url(""),
        scenario,
        overrides={"vus": vus, "duration": "1s", "timeout": timeout, "circuit_breaker": {}, **overrides},
    )
    started = time.monotonic()
    result = run_load_test(spec, processes=1)
    assert time.monotonic() - started < spec.duration_s + spec.timeout_s + SLACK_S
    return result.stats_frame().query("scope == 'endpoint'").set_index("name")


def test_valid_framing_end_to_end(server, tmp_path):
    cases = {**VALID, **UNTIL_CLOSE}
    stats = _run(
        server,
        tmp_path,
        [
            f"{{name: {name}, path: /frame/{name}, expect_status: {status}, check: '{CHECK}'}}"
            for name, (_, status, _) in cases.items()
        ],
        vus=6,
    )
    assert set(stats.index) == set(cases)
    assert (stats["count"] >= 3).all() and stats["errors"].sum() == 0


def test_hostile_framing_fails_each_request_by_name_end_to_end(server, tmp_path):
    stats = _run(server, tmp_path, [f"{{name: {name}, path: /frame/{name}}}" for name in HOSTILE], vus=6)
    assert set(stats.index) == set(HOSTILE)
    assert (stats["count"] >= 3).all() and (stats["errors"] == stats["count"]).all()
    named = {name: list(json.loads(stats.loc[name, "status_counts"])) for name in HOSTILE}
    assert named == {name: [error] for name, (_, error) in HOSTILE.items()}


@pytest.mark.parametrize(
    "path, check, error",
    [
        ("/endless/headers", False, "HeadersTooLarge"),
        ("/endless/body", False, "ReadTimeout"),
        ("/endless/body", True, "BodyTooLarge"),
        ("/endless/slow", False, "ReadTimeout"),
        ("/endless/trailers", False, "HeadersTooLarge"),
        ("/endless/trailers", True, "HeadersTooLarge"),
    ],
)
def test_unbounded_responses_end_with_bounded_memory(server, tmp_path, path, check, error):
    endpoint = f"{{name: case, path: {path}" + (f", check: '{CHECK}'}}" if check else "}")
    tracemalloc.start()
    try:
        stats = _run(server, tmp_path, [endpoint], timeout="1s", max_body_bytes=1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    total = stats.loc["case"]
    assert total["errors"] == total["count"] > 0 and error in total["status_counts"]
    assert peak < 16_000_000  # the server streams far more than that at 2 VUs for 1 s
