"""``scenario from-har`` on recordings of a small local app (an httpx ``MockTransport``, recorded by the
test recorder): every correlation source, what is dropped and left out, typed secrets, the shape, bad input."""

import json
import re

import httpx
import pytest
import yaml

from include.perfpipe.cli import main
from include.perfpipe.loadtest.journey.answer import Answer
from include.perfpipe.loadtest.journey.extract import Extractor
from include.perfpipe.loadtest.journey.scenario import read_scenario
from include.perfpipe.recording.har import Exchange, post_body
from include.perfpipe.recording.selection import Call, select
from include.perfpipe.recording.slots import request_of
from include.perfpipe.recording.structure import shape
from tests.unit.recording.fixed_secrets import fixed_secrets
from tests.unit.recording.recorder import HarRecorder, write_har

API_KEY = "k3y-Typed-By-The-User-0042"
BASE = "https://app.test"


def _app(request: httpx.Request) -> httpx.Response:
    """A service with an XSRF cookie, a CSRF meta tag, ids in a Location and in a nested list, an API key."""
    path = request.url.path
    if path == "/app":
        page = '<html><head><meta content="m3ta-T0ken-7781" name="csrf-token"></head><body>app</body></html>'
        cookie = "XSRF-TOKEN=c00kie-T0ken-5521; Path=/"
        return httpx.Response(200, text=page, headers={"Content-Type": "text/html", "Set-Cookie": cookie})
    if path == "/app/logo.png":
        return httpx.Response(200, content=b"\x89PNG", headers={"Content-Type": "image/png"})
    if request.method == "OPTIONS":
        return httpx.Response(204, headers={"Access-Control-Allow-Methods": "POST"})
    if path == "/api/things" and request.method == "POST":
        good = (
            request.headers.get("X-XSRF-TOKEN") == "c00kie-T0ken-5521"
            and request.headers.get("X-CSRF-Token") == "m3ta-T0ken-7781"
            and request.headers.get("X-Api-Key") == API_KEY
        )
        return httpx.Response(201 if good else 403, json={}, headers={"Location": "/api/things/th1ng-0099?v=2"})
    if path == "/api/things/th1ng-0099":
        return httpx.Response(200, json={"name": "thing", "children": [{"id": 11}, {"id": 12}]})
    if path == "/api/feed":
        return httpx.Response(304 if request.headers.get("If-None-Match") else 200, json=[])
    return httpx.Response(200, json={"ok": True})


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    recorder = HarRecorder({"app.test": httpx.MockTransport(_app)})
    with httpx.Client(transport=recorder, headers={"User-Agent": "Mozilla/5.0", "sec-fetch-mode": "cors"}) as browser:
        page = browser.get(f"{BASE}/app")
        browser.get(f"{BASE}/app/logo.png")
        meta = re.search(r'content="([^"]+)" name="csrf-token"', page.text).group(1)
        secure = {"X-XSRF-TOKEN": browser.cookies["XSRF-TOKEN"], "X-CSRF-Token": meta, "X-Api-Key": API_KEY}
        browser.options(f"{BASE}/api/things", headers={"Access-Control-Request-Method": "POST"})
        created = browser.post(f"{BASE}/api/things", json={"name": "thing"}, headers=secure)
        assert created.status_code == 201
        thing = browser.get(f"{BASE}{created.headers['Location'].split('?')[0]}", headers={"X-Api-Key": API_KEY})
        browser.get(f"{BASE}/api/children/{thing.json()['children'][1]['id']}", headers={"X-Api-Key": API_KEY})
        browser.get(f"{BASE}/api/feed", headers={"If-None-Match": 'W/"1"', "X-Api-Key": API_KEY})
    folder = tmp_path_factory.mktemp("app")
    har = write_har(recorder, folder / "app.har")
    assert main(["scenario", "from-har", str(har), "-o", str(folder / "app.yaml")]) == 0
    return har, folder / "app.yaml"


def test_every_source_is_extracted_as_the_engine_reads_it(recording):
    har, path = recording
    steps = read_scenario(path).journey.steps
    by_name = {s.name: s for s in steps}
    assert [s.name for s in steps] == [
        "get_app",
        "post_api_things",
        "get_api_thing",
        "get_api_children",
        "get_api_feed",
    ]
    page, post, thing = by_name["get_app"], by_name["post_api_things"], by_name["get_api_thing"]
    assert page.extract["xsrf_token"].header == "Set-Cookie" and page.extract["csrf_token"].regex
    assert post.headers["x-xsrf-token"] == "{{ xsrf_token }}" and post.headers["x-csrf-token"] == "{{ csrf_token }}"
    assert post.extract["thing_id"].header == "Location" and thing.path == "/api/things/{{ thing_id }}"
    assert post.expect_status == [201]
    # the id found in a list is taken from the element that held it, not from the first one
    assert thing.extract["children_id"].json_path == "$.children[1].id"
    assert by_name["get_api_children"].path == "/api/children/{{ children_id }}"
    entries = json.loads(har.read_text())["log"]["entries"]
    answers = {e["request"]["url"].split("?")[0]: e["response"] for e in entries}
    for step, url in ((page, f"{BASE}/app"), (post, f"{BASE}/api/things"), (thing, f"{BASE}/api/things/th1ng-0099")):
        response = answers[url]
        headers = [(h["name"].encode(), h["value"].encode()) for h in response["headers"]]
        answer = Answer(response["status"], headers, response["content"].get("text", "").encode())
        got = {name: Extractor(rule).value(answer) for name, rule in step.extract.items()}
        expected = {"xsrf_token": "c00kie-T0ken-5521", "csrf_token": "m3ta-T0ken-7781", "thing_id": "th1ng-0099"}
        assert got == {name: expected.get(name, 12) for name in got}


def test_typed_secrets_go_to_the_feeder_and_browser_headers_are_dropped(recording):
    _, path = recording
    text = path.read_text()
    assert API_KEY not in text and "{{ credentials.x_api_key }}" in text and fixed_secrets(yaml.safe_load(text)) == []
    assert "th1ng-0099" not in text  # a correlated id is not repeated, not even in a comment
    assert (path.parent / "app.credentials.csv").read_text() == f"x_api_key\n{API_KEY}\n"
    lowered = text.lower()
    assert all(h not in lowered for h in ("user-agent:", "sec-fetch", "if-none-match:", "cookie:", "host:"))
    feed = read_scenario(path).journey.steps[-1]
    assert feed.expect_status == [200]  # recorded 304 to a conditional request: the replay asks unconditionally
    assert "Left out: the target's static assets (--keep-static keeps them): /app/logo.png." in text
    assert "Left out: 1 CORS preflight(s) (OPTIONS)." in text


def test_keep_static_and_the_host_option(recording, tmp_path):
    har, _ = recording
    out = tmp_path / "static.yaml"
    assert main(["scenario", "from-har", str(har), "-o", str(out), "--keep-static", "--host", "app.test"]) == 0
    assert "/app/logo.png" in [s["path"] for s in yaml.safe_load(out.read_text())["journey"]["steps"]]
    assert main(["scenario", "from-har", str(har), "-o", str(out), "--host", "elsewhere.test"]) == 3


def test_requests_without_an_answer_are_left_out():
    def exchange(entry, status):
        return Exchange(entry, "GET", f"https://a.test/{entry}", (), None, "", status, (), "", "text/html")

    chosen = select([exchange(1, 200), exchange(2, 0), exchange(3, 101)])
    assert [c.first.entry for c in chosen.calls] == [1] and chosen.unanswered == 2


def test_a_form_recorded_as_params_only_is_rebuilt():
    params = [{"name": "q", "value": "a b&c"}, {"name": "page", "value": "2"}]  # as Firefox may write a form
    assert post_body({"mimeType": "application/x-www-form-urlencoded", "params": params}) == "q=a+b%26c&page=2"
    assert post_body({"text": "raw", "params": params}) == "raw" and post_body({}) is None


def test_pseudo_and_browser_headers_are_dropped_unless_asked():
    sent = ((":authority", "a.test"), ("user-agent", "Mozilla"), ("sec-ch-ua", "x"), ("accept", "*/*"),
            ("content-type", "application/json"), ("referer", "https://a.test/"), ("cookie", "sid=1"))  # fmt: skip
    exchange = Exchange(1, "POST", "https://a.test/x", sent, '{"a": 1}', "application/json", 200, (), "", "")
    assert request_of(Call(exchange, exchange)).headers == {"accept": "*/*"}
    assert request_of(Call(exchange, exchange), keep_user_agent=True).headers == {
        "user-agent": "Mozilla",
        "accept": "*/*",
    }


def test_shape_login_loop_partial_repeat_and_teardown():
    a, b, c, login, logout = ("a",), ("b",), ("c",), ("login",), ("logout",)
    signatures = [login, a, b, c, a, b, c, a, logout]
    uses = [set(), *[{"token"}] * 8]
    journey = shape(signatures, uses, [{"token"}, *[set()] * 8], logins={0})
    assert (journey.setup, journey.steps, journey.teardown) == ([0], [1, 2, 3], [8])
    assert journey.repeats == 2 and journey.partial == [7]
    given = shape(signatures, uses, [{"token"}, *[set()] * 8], logins={0}, setup=1, steps=(2, 4))
    assert (given.setup, given.steps, given.teardown) == ([0], [1, 2, 3], [4, 5, 6, 7, 8])
    long = [login, *[("list",), ("get",), ("add",), ("cart",), ("order",), ("read",)] * 300, logout]
    looped = shape(long, [set(), *[{"token"}] * 1801], [{"token"}, *[set()] * 1801], logins={0})
    assert (looped.steps, looped.repeats, looped.teardown) == (list(range(1, 7)), 300, [1801])
    flat = shape([a, b, c], [set()] * 3, [set()] * 3, logins=set())
    assert (flat.setup, flat.steps) == ([], [0, 1, 2])


def test_the_output_folder_is_made_and_a_write_error_is_one_line(recording, tmp_path, capsys):
    har, _ = recording
    assert main(["scenario", "from-har", str(har), "-o", str(tmp_path / "new" / "s.yaml")]) == 0
    assert (tmp_path / "new" / "s.credentials.csv").exists()
    (tmp_path / "file").write_text("")
    assert main(["scenario", "from-har", str(har), "-o", str(tmp_path / "file" / "s.yaml")]) == 3
    assert "cannot write it" in capsys.readouterr().err


def test_steps_that_use_a_value_before_it_is_extracted_are_refused(recording, tmp_path, capsys):
    har, _ = recording
    assert (
        main(["scenario", "from-har", str(har), "-o", str(tmp_path / "s.yaml"), "--setup", "0", "--steps", "2-3"]) == 3
    )
    assert "uses ['csrf_token', 'xsrf_token'], which no earlier step extracts" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"log": {"entries": [', "not a HAR file: not JSON (line 1, column 22)"),
        ('{"password": "hunter2"}', "log.entries: expected the list of recorded requests"),
        ('{"log": {"entries": [{"request": {"url": "http://a/"}}]}}', "log.entries[0].response: missing"),
        ('{"log": {"entries": []}}', "the recording holds no http(s) request"),
        (b'{"log": "caf\xe9"}', "not UTF-8 text (byte 12, line 1)"),
        ('{"log": ' + "[" * 3000 + "]" * 3000 + "}", "not a HAR file: nested too deeply"),
    ],
)
def test_bad_recordings_are_one_line_naming_the_file_and_field(tmp_path, capsys, content, message):
    har = tmp_path / "bad.har"
    har.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["scenario", "from-har", str(har), "-o", str(tmp_path / "s.yaml")]) == 3
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "hunter2" not in err and not (tmp_path / "s.yaml").exists()


def test_fixed_secrets_finds_every_kind_of_place():
    scenario = {
        "headers": {"X-Api-Key": "k", "Accept": "*/*"},
        "journey": {
            "variables": {"token": "t"},
            "steps": [
                {"path": "/a?api_key=k&page=2", "body": "password=p&user=u", "json": {"auth": {"secret": 1}}},
                {"path": "/b?api_key={{ credentials.key }}", "extract": {"token": "$.token"}},
            ],
        },
    }
    assert fixed_secrets(scenario) == [
        "headers.X-Api-Key",
        "journey.variables.token",
        "journey.steps[0].path: api_key",
        "journey.steps[0].body: password",
        "journey.steps[0].json.auth.secret",
    ]


def test_a_recording_that_lost_its_authorization_headers_is_flagged(tmp_path, capsys):
    def service(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(200, json={"token": "t0ken-Of-The-Login-88"})
        return httpx.Response(200, json={"me": "ada"})

    recorder = HarRecorder({"app.test": httpx.MockTransport(service)})
    with httpx.Client(transport=recorder) as browser:  # what a sanitized export keeps: no Authorization after it
        browser.post(f"{BASE}/login", json={"username": "ada", "password": "s3cret"})
        browser.get(f"{BASE}/me")
        browser.get(f"{BASE}/me/orders")
    har = write_har(recorder, tmp_path / "sanitized.har")
    assert main(["scenario", "from-har", str(har), "-o", str(tmp_path / "s.yaml")]) == 0
    assert "WARNING: the login answered a token but no later request sent an Authorization header" in (
        capsys.readouterr().err
    )
    assert "# WARNING: the login answered a token" in (tmp_path / "s.yaml").read_text()
