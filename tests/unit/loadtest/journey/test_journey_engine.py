"""Journeys on the engine against a loopback API: sessions, correlation, policies, feeders, Python.

Every run is bounded (1-2 s, a few VUs) and asserts what the server saw, not timings.
"""

import collections
import json
import textwrap
import threading
import time

import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.loadtest.clients.choice import HttpClients
from include.perfpipe.loadtest.engine.runner import run_part
from tests.unit.loadtest.journey.server import JourneyServer

SHOP = """
feeders:
  users: {file: users.csv, when_exhausted: stop}
journey:
  headers: {Authorization: "Bearer {{ token }}", X-VU: "{{ vu }}", X-Iteration: "{{ iteration }}"}
  setup:
    - {name: login, method: POST, path: /login, json: {user: "{{ users.user }}"}, extract: {token: $.token},
       on_failure: stop}
  steps:
    - {name: list, path: /items, extract: {item_id: {json: "$[*].id", pick: random}}, checks: [{json: $, length: 3}]}
    - {name: order, method: POST, path: /orders, json: {item_id: "{{ item_id }}"}, expect_status: 201,
       extract: {order_id: $.id}}
    - {name: get_order, path: "/orders/{{ order_id }}", checks: [{status: 200}, {json: $.id, equals: -1}]}
"""


@pytest.fixture
def server():
    with JourneyServer() as srv:
        yield srv


def _scenario(tmp_path, text, users=20):
    (tmp_path / "users.csv").write_text("user\n" + "".join(f"u{i}\n" for i in range(1, users + 1)))
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _run(server, path, **overrides):
    spec = load_spec("smoke", server.url(""), path, overrides={"vus": 4, "duration": "1s", **overrides})
    return run_load_test(spec, processes=1)  # one event loop: worker processes take seconds to start


def _rows(result):
    return result.stats_frame().set_index("name")


def test_a_journey_logs_in_once_per_vu_and_carries_its_values(server, tmp_path):
    result = _run(server, _scenario(tmp_path, SHOP))
    logins = [json.loads(body)["user"] for method, path, _, body in server.log if path == "/login"]
    assert sorted(logins) == ["u1", "u2", "u3", "u4"]  # setup once per VU, one sequential row each
    later = [(path, headers) for _, path, headers, _ in server.log if path != "/login"]
    tokens = {h["authorization"] for _, h in later}
    assert tokens == {f"Bearer tok-{u}" for u in logins}
    by_vu = collections.defaultdict(set)
    for _, headers in later:
        by_vu[headers["x-vu"]].add(headers["authorization"])
    assert sorted(by_vu) == ["1", "2", "3", "4"] and all(len(t) == 1 for t in by_vu.values())
    orders = [int(path.rsplit("/", 1)[1]) for path, _ in later if path.startswith("/orders/")]
    assert orders and all(o in server.orders for o in orders)  # every read names an order it created
    assert set(server.orders.values()) == {11, 12, 13}  # ids taken from the list, at random
    rows = _rows(result)
    assert rows.loc["all", "errors"] == 0 and rows.loc["login", "count"] == 4
    journey = result.summary()["journey"]
    assert journey["iterations"] >= rows.loc["get_order", "count"] - 4 > 0
    checks = journey["checks"]
    assert checks["list: len($) == 3"]["pass_rate"] == 1.0
    assert checks["get_order: $.id == -1"]["passed"] == 0  # counted, not a request error
    assert checks["get_order: status in [200]"]["failed"] == 0


def test_restart_skips_the_rest_of_the_iteration_and_stop_runs_teardown(server, tmp_path):
    text = """
    journey:
      steps:
        - {name: ok, path: /ok}
        - {name: fails, path: /status/500, on_failure: restart}
        - {name: never, path: /never}
    """
    result = _run(server, _scenario(tmp_path, text), vus=2)
    paths = collections.Counter(path for _, path, _, _ in server.log)
    assert paths["/never"] == 0 and paths["/ok"] >= paths["/status/500"] > 0
    assert result.summary()["journey"]["failed_iterations"] == paths["/status/500"]
    server.log.clear()
    text = """
    journey:
      steps: [{name: fails, path: /status/503, on_failure: stop}, {name: never, path: /never}]
      teardown: [{name: bye, path: /bye}]
    """
    result = _run(server, _scenario(tmp_path, text), vus=3)
    assert [path for _, path, _, _ in server.log].count("/status/503") == 3
    assert [path for _, path, _, _ in server.log].count("/bye") == 3
    assert result.summary()["journey"]["stopped_vus"] == 3


LOGIN_AND_TEARDOWN = """
journey:
  setup: [{name: login, method: POST, path: /login, json: {user: "u{{ vu }}"}, extract: {token: $.token}}]
  steps: [{name: ok, path: /ok, think_time: THINK}]
  teardown: [{name: bye, path: "/bye?vu={{ vu }}&token={{ token }}"}, {name: after_bye, path: /after_bye}]
"""


def _teardowns(server):
    return sorted(p for _, p, _, _ in server.log if p.startswith("/bye?"))


def test_teardown_runs_once_per_vu_that_ran_setup_when_the_duration_ends(server, tmp_path):
    started = time.monotonic()
    _run(server, _scenario(tmp_path, LOGIN_AND_TEARDOWN.replace("THINK", "30s")), vus=3)
    assert time.monotonic() - started < 3  # the 30 s think the VUs were in is cut by the end
    assert _teardowns(server) == [f"/bye?vu={n}&token=tok-u{n}" for n in (1, 2, 3)]
    assert [p for _, p, _, _ in server.log].count("/after_bye") == 3  # every teardown step, in order


def test_teardown_runs_when_a_stop_signal_ends_the_run(server, tmp_path):
    spec = load_spec(
        "smoke",
        server.url(""),
        _scenario(tmp_path, LOGIN_AND_TEARDOWN.replace("THINK", "50ms")),
        overrides={"vus": 2, "duration": "30s"},
    )
    asked = threading.Event()
    threading.Timer(0.7, asked.set).start()
    started = time.monotonic()
    result = run_load_test(spec, processes=1, should_stop=lambda: "stopped by the test" if asked.is_set() else None)
    assert time.monotonic() - started < 3 and result.abort_reason == "stopped by the test"
    assert _teardowns(server) == ["/bye?vu=1&token=tok-u1", "/bye?vu=2&token=tok-u2"]


def test_a_ramped_down_vu_tears_down_once_and_the_end_adds_none(server, tmp_path):
    stages = [{"duration": "0.6s", "target": 2}, {"duration": "0.3s", "target": 0}, {"duration": "0.5s", "target": 0}]
    _run(
        server, _scenario(tmp_path, LOGIN_AND_TEARDOWN.replace("THINK", "20ms")), vus=None, stages=stages, duration=None
    )
    assert _teardowns(server) == ["/bye?vu=1&token=tok-u1", "/bye?vu=2&token=tok-u2"]


def test_teardown_at_the_end_is_cut_after_the_drain_time(server, tmp_path):
    text = LOGIN_AND_TEARDOWN.replace("THINK", "10ms").replace('"/bye?vu={{ vu }}&token={{ token }}"', "/sleep/4000")
    started = time.monotonic()
    _run(server, _scenario(tmp_path, text), vus=2, timeout="1s")
    assert time.monotonic() - started < 1 + 1 + 2  # duration, drain time (the 1 s timeout), slack
    assert [p for _, p, _, _ in server.log].count("/sleep/4000") == 2
    assert "/after_bye" not in [p for _, p, _, _ in server.log]  # nothing is sent past the drain time


def test_open_model_idle_vus_tear_down_at_the_end(server, tmp_path):
    spec = load_spec(
        "smoke",
        server.url(""),
        _scenario(tmp_path, LOGIN_AND_TEARDOWN.replace("THINK", "0s")),
        overrides={"rate": 20, "duration": "1s", "max_vus": 4},
    )
    run_load_test(spec, processes=1)
    logins = [json.loads(b)["user"] for _, p, _, b in server.log if p == "/login"]
    assert logins and _teardowns(server) == sorted(f"/bye?vu={u[1:]}&token=tok-{u}" for u in logins)


def test_an_exhausted_feeder_stops_the_vus_that_need_a_row(server, tmp_path):
    result = _run(server, _scenario(tmp_path, SHOP, users=2))
    logins = [json.loads(body)["user"] for _, path, _, body in server.log if path == "/login"]
    assert sorted(logins) == ["u1", "u2"]
    assert result.summary()["journey"]["stopped_vus"] == 2


def test_an_unset_variable_fails_the_step_without_sending(server, tmp_path):
    text = """
    journey:
      steps:
        - {name: miss, path: /ok, extract: {id: $.id}}
        - {name: use, path: "/orders/{{ id }}"}
    """
    result = _run(server, _scenario(tmp_path, text), vus=1)
    statuses = {name: json.loads(row) for name, row in _rows(result)["status_counts"].items()}
    assert set(statuses["miss"]) == {"ExtractError"} and set(statuses["use"]) == {"TemplateError"}
    assert not [p for _, p, _, _ in server.log if p.startswith("/orders/")]


def test_pacing_spaces_iterations(server, tmp_path):
    text = "journey: {pacing: 0.4s, steps: [{name: ok, path: /ok}]}"
    result = _run(server, _scenario(tmp_path, text), vus=2, duration="1s")
    assert 4 <= result.summary()["journey"]["iterations"] <= 6  # 2 VUs x 3 starts (0, 0.4, 0.8 s)


def test_templated_flat_endpoints_run_as_a_weighted_journey(server, tmp_path):
    text = "endpoints: [{name: a, path: '/status/200?vu={{ vu }}', weight: 3}, {name: b, path: /ok}]"
    result = _run(server, _scenario(tmp_path, text), vus=2)
    rows = _rows(result)
    assert rows.loc["a", "count"] > rows.loc["b", "count"] > 0
    assert {p for _, p, _, _ in server.log if p.startswith("/status")} == {"/status/200?vu=1", "/status/200?vu=2"}


def test_open_model_journeys_are_iterations_per_second(server, tmp_path):
    text = "journey: {steps: [{name: ok, path: /ok}, {name: again, path: /sleep/5}]}"
    spec = load_spec(
        "smoke", server.url(""), _scenario(tmp_path, text), overrides={"rate": 40, "duration": "1s", "max_vus": 10}
    )
    result = run_load_test(spec, processes=1)
    assert 36 <= result.summary()["journey"]["iterations"] <= 40
    assert _rows(result).loc["again", "count"] == result.summary()["journey"]["iterations"]


@pytest.mark.parametrize(
    "text", ["journey: {steps: [{name: ok, path: /ok}]}", "journey: tests.unit.loadtest.journey.journeys:one_ok"]
)
def test_open_model_counts_an_arrival_the_run_ended_before_as_dropped(server, tmp_path, text):
    spec = load_spec(
        "smoke", server.url(""), _scenario(tmp_path, text), overrides={"rate": 40, "duration": "1s", "max_vus": 10}
    )
    start_at, held = time.time() + 0.3, []

    def hold_the_loop_over_the_end():  # a busy machine: the loop is held from 0.8 s to 1.2 s into the run
        if not held and time.time() >= start_at + 0.8:
            held.append(time.sleep(0.4))

    result = run_part(spec, HttpClients, 0, 1, start_at, should_stop=hold_the_loop_over_the_end)
    iterations, dropped = result.summary()["journey"]["iterations"], result.health["dropped"]
    assert held and iterations + dropped == 40 and dropped > 0  # the 40 arrivals due in 1 s: each run or dropped
    assert iterations == [path for _, path, _, _ in server.log].count("/ok")


def test_python_journey_runs_on_the_same_engine(server, tmp_path):
    text = "feeders: {users: {file: users.csv}}\njourney: tests.unit.loadtest.journey.journeys:shop\n"
    result = _run(server, _scenario(tmp_path, text), vus=3)
    logins = sorted(json.loads(b)["user"] for _, p, _, b in server.log if p == "/login")
    assert logins == ["u1", "u2", "u3"]
    rows = _rows(result)
    assert rows.loc["all", "errors"] == 0 and rows.loc["get_order", "count"] > 0
    summary = result.summary()["journey"]
    assert summary["groups"]["order"]["count"] >= rows.loc["get_order", "count"] - 3
    assert summary["iterations"] >= rows.loc["get_order", "count"] - 3


def test_python_journey_errors_are_counted_by_type(server, tmp_path):
    result = _run(server, _scenario(tmp_path, "journey: tests.unit.loadtest.journey.journeys:broken\n"), vus=1)
    summary = result.summary()["journey"]
    assert summary["errors"]["LookupError"] == summary["failed_iterations"] > 0
    assert _rows(result).loc["fails", "errors"] == _rows(result).loc["fails", "count"]


def test_python_journey_cannot_leave_the_allowlist(server, tmp_path):
    result = _run(server, _scenario(tmp_path, "journey: tests.unit.loadtest.journey.journeys:elsewhere\n"), vus=1)
    assert result.summary()["journey"]["errors"]["TargetNotAllowed"] > 0
    assert result.metrics.endpoints == {}  # nothing was sent


def test_python_journey_verbs_return_httpx_responses_of_what_was_sent(server, tmp_path):
    text = "feeders: {users: {file: users.csv}}\njourney: tests.unit.loadtest.journey.journeys:verbs\n"
    started = time.monotonic()
    result = _run(server, _scenario(tmp_path, text), vus=2)
    assert time.monotonic() - started < 3  # vu.sleep(30) is cut by the end
    sent = {path.split("verb=")[1]: (method, headers, body) for method, path, headers, body in server.log}
    assert sorted(sent) == sorted(["get", "post", "put", "patch", "delete", "head", "options"])
    for verb, (method, headers, body) in sent.items():
        assert method == verb.upper() and headers["x-verb"] == verb and headers["user-agent"] == "mine"
        assert json.loads(body) == {"verb": verb} and headers["content-type"] == "application/json"
    assert len([1 for m, *_ in server.log]) == 14  # two VUs, one iteration each (then the 30 s sleep)
    summary = result.summary()["journey"]
    assert summary["errors"] == {} and summary["groups"]["feed"]["count"] == 2
    assert _rows(result).loc["head", "count"] == 2


def test_a_request_that_does_not_encode_fails_by_name_once_logged_and_the_vu_goes_on(server, tmp_path, caplog):
    """A header templated from a value outside Latin-1 fails its request as ``EncodeError`` (logged once);
    a Latin-1 one is sent as its octets; a path's non-ASCII literal is percent-encoded (UTF-8), as a
    browser sends it. Before, the VU's task died on a UnicodeEncodeError and the run went on without it."""
    (tmp_path / "names.csv").write_text("name\nAnn\n東京\nZoë\n", encoding="utf-8")
    text = """
    feeders:
      names: {file: names.csv, per: iteration, strategy: circular}
    journey:
      steps:
        - {name: greet, path: /ok, headers: {X-Name: "{{ names.name }}"}, on_failure: continue}
        - {name: cafe, path: "/café/{{ vu }}", expect_status: [200, 404]}
    """
    with caplog.at_level("WARNING", logger="perfpipe.loadtest"):
        result = _run(server, _scenario(tmp_path, text), vus=2)
    statuses = json.loads(_rows(result).loc["greet", "status_counts"])
    assert set(statuses) == {"200", "EncodeError"} and statuses["EncodeError"] >= 2, statuses  # VUs went on
    assert sum("EncodeError" in r.getMessage() for r in caplog.records) == 1
    sent = {h.get("x-name") for _, p, h, _ in server.log if p == "/ok"}
    assert sent == {"Ann", "Zoë"}  # the server decodes a head as Latin-1
    assert {p for _, p, _, _ in server.log if p.startswith("/caf")} == {"/caf%C3%A9/1", "/caf%C3%A9/2"}


def test_a_python_journey_request_that_does_not_encode_is_a_failed_request(server, tmp_path):
    text = "journey: 'tests.unit.loadtest.journey.journeys:unencodable_header'"
    rows = _rows(_run(server, _scenario(tmp_path, text), vus=1, duration="500ms"))
    assert set(json.loads(rows.loc["tokyo", "status_counts"])) == {"EncodeError"}
    # each failed request is followed by the plain one; only the last iteration's may fall after the run's end
    tokyo, after = rows.loc["tokyo", "count"], rows.loc["after", "count"]
    assert rows.loc["after", "errors"] == 0 and after > 0 and tokyo - after in (0, 1)
