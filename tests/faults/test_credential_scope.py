"""Fault matrix row 28: the target's credentials go to its own scheme, host and port only (issue 23,
finding 5). Two loopback servers logging every request: the target and another allow-listed origin
(127.0.0.1 on another port). The run's secret headers (Basic auth, ``X-Api-Key``) reach the target on
every request, and never the other origin: by a flat ``url:`` endpoint, a journey's ``url:`` step, a
Python journey's absolute URL, or a redirect that leaves the target (which also drops a templated
secret-looking header)."""

import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.loadtest.http.credentials import basic_auth
from tests.unit.loadtest.journey.server import JourneyServer

pytestmark = pytest.mark.integration
API_KEY = "pl4nted-api-key-456"
SECRETS = {"Authorization": basic_auth("alice", "pl4nted-Passw0rd"), "X-Api-Key": API_KEY}


@pytest.fixture(scope="module")
def servers():
    with JourneyServer() as target, JourneyServer() as other:
        yield target, other


def _scenarios(other: str) -> dict[str, str]:
    return {
        "flat url endpoint": f"endpoints:\n  - {{name: target, path: /ok}}\n  - {{name: other, url: '{other}'}}\n",
        "journey url step": (
            f"journey:\n  steps:\n    - {{name: target, path: /ok}}\n    - {{name: other, url: '{other}'}}\n"
        ),
        "python journey": "journey: 'tests.faults.journeys:elsewhere'\n",
        "redirect": (
            "journey:\n  headers: {X-Session-Token: 'vu-{{ vu }}'}\n  steps:\n"
            f"    - {{name: target, path: '/redirect?status=302&to={other}'}}\n"
        ),
    }


@pytest.mark.parametrize("kind", ["flat url endpoint", "journey url step", "python journey", "redirect"])
def test_credentials_reach_only_the_targets_own_origin(servers, tmp_path, monkeypatch, kind):
    target, other = servers
    other_url = f"http://127.0.0.1:{other.port}/ok"
    monkeypatch.setenv("PERFPIPE_FAULT_OTHER_URL", other_url)
    (tmp_path / "s.yaml").write_text(_scenarios(other_url)[kind])
    target.log.clear(), other.log.clear()
    spec = load_spec(
        "smoke",
        target.url(""),
        tmp_path / "s.yaml",
        allowlist=[f"127.0.0.1:{target.port}", f"127.0.0.1:{other.port}"],
        overrides={"vus": 1, "duration": "500ms", "circuit_breaker": {}},
        secret_headers=list(SECRETS),
    )
    run_load_test(spec, processes=1, secret_headers=SECRETS)
    to_target = [headers for _, _, headers, _ in target.log]
    to_other = [headers for _, _, headers, _ in other.log]
    assert to_target and to_other, (len(to_target), len(to_other))
    assert all(h.get("x-api-key") == API_KEY and h.get("authorization") == SECRETS["Authorization"] for h in to_target)
    leaked = [h for h in to_other if {"x-api-key", "authorization", "x-session-token"} & set(h)]
    assert not leaked, leaked[0]
