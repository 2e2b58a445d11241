"""Credentials: the spec carries header names, the engine gets the values at run time."""

import json

import pytest

from include.perfpipe.loadtest import LoadSpec, load_spec, run_load_test
from include.perfpipe.loadtest.http.credentials import basic_auth, checked_headers, looks_secret, resolve
from tests.unit.loadtest.server import LoopbackServer

PASSWORD, API_KEY = "pl4nted-Passw0rd", "pl4nted-api-key-123"
SECRETS = {"Authorization": basic_auth("alice", PASSWORD), "X-Api-Key": API_KEY}


def test_engine_sends_the_secret_headers_and_the_result_names_them_only():
    with LoopbackServer() as server:
        spec = load_spec(
            "smoke",
            server.url("/ok"),
            overrides={"vus": 1, "duration": "0.5s"},
            secret_headers=list(SECRETS),
            credentials_conn_id="perf_target_http",
        )
        result = run_load_test(spec, secret_headers=SECRETS)
        head = server.last_head.decode()
    assert f"Authorization: {SECRETS['Authorization']}" in head and f"X-Api-Key: {API_KEY}" in head
    recorded = json.dumps(result.to_dict())
    assert result.spec["secret_headers"] == ["Authorization", "X-Api-Key"]
    assert API_KEY not in recorded and SECRETS["Authorization"].split()[1] not in recorded


def test_a_header_the_scenario_sets_itself_wins(tmp_path):
    scenario = tmp_path / "s.yaml"
    # templated: a fixed credential in a scenario file is refused (it would be recorded in the spec)
    scenario.write_text('headers: {authorization: "Bearer scenario-{{ vu }}"}\nendpoints:\n  - {path: /ok}\n')
    with LoopbackServer() as server:
        spec = load_spec(
            "smoke",
            server.url(""),
            scenario,
            overrides={"vus": 1, "duration": "0.3s"},
            secret_headers=["Authorization"],
        )
        run_load_test(spec, secret_headers={"Authorization": "Bearer connection"})
        head = server.last_head.decode().lower()
    assert "authorization: bearer scenario-" in head and "connection" not in head


def test_the_worker_must_get_exactly_the_named_headers():
    spec = load_spec("smoke", "http://127.0.0.1:9/", secret_headers=["X-Api-Key"])
    with pytest.raises(ValueError, match=r"names \['X-Api-Key'\] but the worker was given \[\]"):
        run_load_test(spec)
    assert resolve(["x-api-key"], {"X-Api-Key": "k"}) == {"X-Api-Key": "k"}


@pytest.mark.parametrize(
    "headers, message",
    [
        ({"X-Api-Key": "a\r\nInjected: 1"}, r"header 'X-Api-Key' must be a one-line string \(value not shown\)"),
        ({"Bad Name": "v"}, r"header name 'Bad Name' is not a valid HTTP token"),
        (["X-Api-Key"], r"expected a mapping of header name to value, got a list"),
        ({"X-Api-Key": "Injected東京"}, r"header 'X-Api-Key' has characters outside Latin-1, .* value not shown"),
    ],
)
def test_bad_credential_headers_are_refused_without_their_value(headers, message):
    with pytest.raises(ValueError, match=message) as caught:
        checked_headers(headers, "connection 'c' extra.headers")
    assert "Injected" not in str(caught.value)
    checked_headers({"X-Name": "Zoë"}, "Latin-1 is a valid field value (RFC 9110 obs-text)")


def test_old_specs_without_credential_fields_still_load():
    data = load_spec("smoke", "http://127.0.0.1:9/").to_dict()
    del data["secret_headers"], data["credentials_conn_id"]
    assert LoadSpec.from_dict(data).secret_headers == []


def test_secret_looking_names():
    assert all(map(looks_secret, ["Authorization", "X-Api-Key", "X-Auth-Token", "Cookie", "Proxy-Authorization"]))
    assert not any(map(looks_secret, ["Accept", "Content-Type", "X-Request-Id"]))
