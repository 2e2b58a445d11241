"""Redirects, cookies and compression in whole short runs against the fixture server."""

import json

import httpx
import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.loadtest.http.framing import serialise
from include.perfpipe.loadtest.http.redirects import RedirectRefused, next_request
from tests.unit.loadtest import http_journeys
from tests.unit.loadtest.server import LoopbackServer

WORD_IS_HELLO = "tests.unit.loadtest.test_http_features:word_is_hello"


def word_is_hello(response: httpx.Response) -> bool:
    return response.json()["word"] == "hello"


@pytest.fixture(scope="module")
def servers():
    with LoopbackServer() as first, LoopbackServer() as second:
        yield first, second


def _run(server, tmp_path, scenario: str, allowlist: list[str], vus=2, **overrides):
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario)
    spec = load_spec(
        "smoke",
        server.url(""),
        path,
        allowlist=allowlist,
        overrides={"vus": vus, "duration": "500ms", "timeout": "2s", "circuit_breaker": {}, **overrides},
    )
    result = run_load_test(spec, processes=1)
    return result, result.stats_frame().query("scope == 'endpoint'").set_index("name")


def _hops(servers, to_second: bool) -> tuple[str, list[str]]:
    first, second = servers
    return f"http://127.0.0.1:{second.port}/ok", [f"127.0.0.1:{first.port}"] + (
        [f"127.0.0.1:{second.port}"] if to_second else []
    )


def test_a_redirect_within_the_allowlist_is_followed_and_timed_as_one_request(servers, tmp_path):
    first, second = servers
    target, allowlist = _hops(servers, to_second=True)
    before = second.hits["/ok"]
    _, stats = _run(
        first, tmp_path, f"endpoints:\n  - {{name: hop, path: '/redirect?status=307&to={target}'}}\n", allowlist
    )
    row = stats.loc["hop"]
    assert row["count"] > 0 and row["errors"] == 0 and json.loads(row["status_counts"]) == {"200": row["count"]}
    assert second.hits["/ok"] - before == row["count"]


def test_a_redirect_outside_the_allowlist_fails_and_sends_nothing_there(servers, tmp_path):
    first, second = servers
    target, allowlist = _hops(servers, to_second=False)
    before = second.requests
    _, stats = _run(first, tmp_path, f"endpoints:\n  - {{name: hop, path: '/redirect?to={target}'}}\n", allowlist)
    row = stats.loc["hop"]
    assert row["count"] > 0 and row["errors"] == row["count"]
    assert json.loads(row["status_counts"]) == {"RedirectNotAllowed": row["count"]}
    assert second.requests == before


def test_a_redirect_loop_ends_at_max_redirects(servers, tmp_path):
    first, _ = servers
    before = first.hits["/loop"]
    _, stats = _run(
        first, tmp_path, "max_redirects: 3\nendpoints:\n  - {name: loop, path: /loop}\n", [f"127.0.0.1:{first.port}"]
    )
    row = stats.loc["loop"]
    assert row["count"] > 0 and json.loads(row["status_counts"]) == {"TooManyRedirects": row["count"]}
    # the request and its 3 redirects, each time (and the chains the end of the run cut, one per VU at most)
    assert 4 * row["count"] <= first.hits["/loop"] - before <= 4 * (row["count"] + 2)


def test_max_redirects_0_answers_with_the_redirect(servers, tmp_path):
    first, second = servers
    target, allowlist = _hops(servers, to_second=True)
    before = second.requests
    _, stats = _run(
        first,
        tmp_path,
        f"endpoints:\n  - {{name: hop, path: '/redirect?to={target}', expect_status: 302}}\n",
        allowlist,
        max_redirects=0,
    )
    row = stats.loc["hop"]
    assert row["count"] > 0 and row["errors"] == 0 and json.loads(row["status_counts"]) == {"302": row["count"]}
    assert second.requests == before


def test_a_journey_follows_redirects_too(servers, tmp_path):
    first, second = servers
    target, allowlist = _hops(servers, to_second=True)
    before = second.hits["/ok"]
    step = f"{{name: hop, path: '/redirect?status=303&to={target}', method: POST, json: {{a: 1}}}}"
    scenario = f"journey:\n  steps:\n    - {step}\n"
    _, stats = _run(first, tmp_path, scenario, allowlist)
    row = stats.loc["hop"]
    assert row["count"] > 0 and row["errors"] == 0 and second.hits["/ok"] - before == row["count"]
    assert second.last_head.startswith(b"GET /ok HTTP/1.1") and b"content-length" not in second.last_head.lower()


def test_each_hop_is_built_as_rfc_9110_says():
    post = b"POST /a HTTP/1.1\r\nHost: h:1\r\nAuthorization: t\r\nX-Key: k\r\nContent-Length: 2\r\n\r\n{}"
    same = serialise(next_request(post, "http://h:1/a", 307, b"/b?q=1", ["h"], ["X-Key"]))
    assert same == b"POST /b?q=1 HTTP/1.1\r\nHost: h:1\r\nAuthorization: t\r\nX-Key: k\r\nContent-Length: 2\r\n\r\n{}"
    other = serialise(next_request(post, "http://h:1/a", 302, b"http://g:2/c", ["h", "g"], ["X-Key"]))
    assert other == b"GET /c HTTP/1.1\r\nHost: g:2\r\n\r\n"  # a GET now, and no credentials to another origin
    for location, error in ((b"http://elsewhere/", "RedirectNotAllowed"), (b"ftp://h/x", "InvalidRedirect")):
        with pytest.raises(RedirectRefused, match=error):
            next_request(post, "http://h:1/a", 302, location, ["h"])


def test_two_vus_never_see_each_others_cookies(servers, tmp_path):
    first, _ = servers
    http_journeys.SEEN.clear()
    scenario = "journey: tests.unit.loadtest.http_journeys:own_cookie\n"
    result, _ = _run(first, tmp_path, scenario, [f"127.0.0.1:{first.port}"], vus=3)
    vus = {number for number, _ in http_journeys.SEEN}
    assert vus == {1, 2, 3} and result.journey.failed_iterations == 0
    assert all(seen == f"vu={number}" for number, seen in http_journeys.SEEN), http_journeys.SEEN


@pytest.mark.parametrize("cookies", [True, False])
def test_flat_endpoints_send_the_vus_cookies_unless_turned_off(servers, tmp_path, cookies):
    first, _ = servers
    scenario = (
        f"cookies: {str(cookies).lower()}\nendpoints:\n  - {{name: set, path: /set-cookie/a/1}}\n"
        f"  - {{name: read, path: /cookies, check: '{CHECK_COOKIE}'}}\n"
    )
    _, stats = _run(first, tmp_path, scenario, [f"127.0.0.1:{first.port}"])
    assert stats.loc["read", "count"] > 0
    sent = stats.loc["read", "count"] - stats.loc["read", "errors"]  # reads that carried a=1
    assert (sent > 0) if cookies else (sent == 0)


CHECK_COOKIE = "tests.unit.loadtest.test_http_features:carries_cookie"


def carries_cookie(response: httpx.Response) -> bool:
    assert response.content in (b"", b"a=1"), response.content  # never anything but what was set
    return response.content == b"a=1"


def test_a_gzip_body_is_decoded_for_a_check_and_an_extraction(servers, tmp_path):
    first, _ = servers
    scenario = (
        "journey:\n  steps:\n"
        f"    - {{name: zipped, path: /gzip, check: '{WORD_IS_HELLO}', extract: {{word: $.word}}}}\n"
        "    - {name: used, path: '/ok?w={{ word }}'}\n"
    )
    before = first.targets["/ok?w=hello"]
    _, stats = _run(first, tmp_path, scenario, [f"127.0.0.1:{first.port}"])
    assert stats.loc["zipped", "count"] > 0 and stats.loc["zipped", "errors"] == 0
    assert stats.loc["used", "count"] == first.targets["/ok?w=hello"] - before > 0 and stats.loc["used", "errors"] == 0


def test_the_open_model_follows_redirects_too(servers, tmp_path):
    first, second = servers
    target, allowlist = _hops(servers, to_second=True)
    before = second.hits["/ok"]
    scenario = f"endpoints:\n  - {{name: hop, path: '/redirect?status=302&to={target}'}}\n"
    result, stats = _run(first, tmp_path, scenario, allowlist, vus=4, rate=40)
    row = stats.loc["hop"]
    assert row["count"] > 0 and row["errors"] == 0 and second.hits["/ok"] - before == row["count"]
    assert result.health["dropped"] == 0
