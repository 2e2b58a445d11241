"""The target connection: credential headers for the engine only, masked wherever they could reach a log."""

import json

import pytest

PASSWORD, API_KEY = "pl4nted-Passw0rd", "pl4nted-api-key-123"


def _connection(monkeypatch, **fields):
    monkeypatch.setenv("AIRFLOW_CONN_PERF_TEST_HTTP", json.dumps({"conn_type": "http", **fields}))


def test_login_and_extra_headers_become_masked_credential_headers(monkeypatch):
    from airflow.sdk._shared.secrets_masker import redact

    from include.perfpipe.loadtest.http.credentials import basic_auth
    from include.pipelines.targets import http_target

    _connection(
        monkeypatch,
        host="127.0.0.1",
        port=8000,
        login="alice",
        password=PASSWORD,
        extra={"headers": {"X-Api-Key": API_KEY, "Accept": "application/json"}},
    )
    base_url, headers = http_target("perf_test_http")
    assert base_url == "http://127.0.0.1:8000"
    assert headers == {
        "X-Api-Key": API_KEY,
        "Accept": "application/json",
        "Authorization": basic_auth("alice", PASSWORD),
    }
    token = headers["Authorization"].split()[1]
    logged = redact(f"key {API_KEY} token {token} password {PASSWORD} accept application/json")
    assert API_KEY not in logged and token not in logged and PASSWORD not in logged
    assert "application/json" in logged  # only secret-looking headers are masked


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"host": "alice:pw@127.0.0.1"}, "credentials in the host; set them as the login and password"),
        (
            {"host": "127.0.0.1", "extra": {"headers": {"X-Api-Key": "a\nb"}}},
            r"extra.headers: header 'X-Api-Key' must be a one-line string \(value not shown\)",
        ),
    ],
)
def test_bad_connections_are_refused_without_showing_the_secret(monkeypatch, fields, message):
    from include.pipelines.targets import http_target

    _connection(monkeypatch, **fields)
    with pytest.raises(ValueError, match=message) as caught:
        http_target("perf_test_http")
    assert "pw" not in str(caught.value) and "a\nb" not in str(caught.value)
