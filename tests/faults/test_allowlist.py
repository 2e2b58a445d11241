"""Fault matrix row 11: a target outside the allowlist is refused before a single request is sent there.

Two loopback servers: ``inside`` on 127.0.0.1 (allow-listed) and ``outside`` reached as ``localhost``
(not allow-listed), each counting what it receives."""

import json

import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.loadtest.http.target import TargetNotAllowed
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration
ALLOWLIST = ["127.0.0.1"]
ONE_SECOND = {"vus": 1, "duration": "1s"}


@pytest.fixture
def servers():
    with LoopbackServer() as inside, LoopbackServer() as outside:
        yield inside, outside


def test_a_target_outside_the_allowlist_is_refused_by_the_spec_and_by_the_engine(servers):
    inside, outside = servers
    outside_url = f"http://localhost:{outside.port}/ok"
    with pytest.raises(TargetNotAllowed, match=r"host 'localhost' of .* is not in the allowlist \['127.0.0.1'\]"):
        load_spec("smoke", outside_url, overrides={"vus": 1, "duration": "1s"}, allowlist=ALLOWLIST)
    spec = load_spec("smoke", inside.url("/ok"), overrides={"vus": 1, "duration": "1s"}, allowlist=ALLOWLIST)
    tampered = {**spec.to_dict(), "target": outside_url}  # e.g. an XCom edited between preflight and load_test
    tampered["endpoints"] = [{**e, "url": outside_url} for e in tampered["endpoints"]]
    with pytest.raises(TargetNotAllowed):
        run_load_test(tampered, processes=1)
    assert outside.requests == 0 and inside.requests == 0


def test_a_scenario_step_outside_the_allowlist_is_refused(servers, tmp_path):
    inside, outside = servers
    scenario = tmp_path / "escape.yaml"
    scenario.write_text(
        f"endpoints:\n  - {{name: in, path: /ok}}\n  - {{name: out, url: 'http://localhost:{outside.port}/ok'}}\n"
    )
    with pytest.raises(TargetNotAllowed, match="localhost"):
        load_spec(
            "smoke", inside.url(""), scenario=scenario, overrides={"vus": 1, "duration": "1s"}, allowlist=ALLOWLIST
        )
    assert outside.requests == 0


def test_a_python_journey_request_outside_the_allowlist_is_never_sent(servers, tmp_path, monkeypatch):
    inside, outside = servers
    monkeypatch.setenv("PERFPIPE_FAULT_OUTSIDE_URL", f"http://localhost:{outside.port}/ok")
    scenario = tmp_path / "python.yaml"
    scenario.write_text("journey: 'tests.faults.journeys:escape'\n")
    spec = load_spec(
        "smoke", inside.url(""), scenario=scenario, overrides={"vus": 2, "duration": "2s"}, allowlist=ALLOWLIST
    )
    result = run_load_test(spec, processes=1)
    assert inside.requests > 0 and outside.requests == 0
    assert result.journey.errors["TargetNotAllowed"] > 0, result.journey.errors  # counted by exception type


def test_a_redirect_hop_outside_the_allowlist_is_never_followed(servers):
    """The allow-listed target redirects every request to the outside host: each ends as
    ``RedirectNotAllowed``, in worker processes, and the outside server receives nothing."""
    inside, outside = servers
    hop = inside.url(f"/redirect?status=302&to=http://localhost:{outside.port}/ok")
    spec = load_spec("smoke", hop, overrides={"vus": 2, "duration": "2s"}, allowlist=ALLOWLIST)
    result = run_load_test(spec, processes=2)
    total = result.stats_frame().set_index("name").loc["all"]
    counts = json.loads(total["status_counts"]) if isinstance(total["status_counts"], str) else total["status_counts"]
    assert inside.requests > 0 and outside.requests == 0
    assert set(counts) == {"RedirectNotAllowed"} and total["errors"] == total["count"] > 0, counts
