"""Profiles, scenarios and overrides become a LoadSpec; bad input is refused naming field and value."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest import LoadSpec, TargetNotAllowed, check_target, load_spec, parse_duration
from include.perfpipe.loadtest.contract import K6Run
from include.perfpipe.loadtest.engine.abort_rules import AbortRule, CircuitBreaker
from include.perfpipe.loadtest.engine.generator import share
from include.perfpipe.loadtest.executors.arrival_loop import ArrivalSchedule
from include.perfpipe.loadtest.journey.models import ScenarioFile, ThinkTime

DEMO = Path(__file__).resolve().parents[3] / "include" / "config" / "scenarios" / "demo.yaml"
TARGET = "http://127.0.0.1:8000"


def test_durations():
    assert [parse_duration(v) for v in ("30s", "1m", "500ms", "2h", 3)] == [30, 60, 0.5, 7200, 3]
    with pytest.raises(ValueError, match=r"think_time.*'soon'"):
        parse_duration("soon", "think_time")


def test_profiles_give_stages_and_hold_windows():
    load = load_spec("load", TARGET)
    assert load.model == "closed" and load.max_vus == 200 and load.duration_s == 270
    assert [w["kind"] for w in load.stage_windows()] == ["ramp", "hold", "ramp", "hold", "ramp"]
    assert load.level_at(15) == pytest.approx(50) and load.level_at(100) == pytest.approx(133.333, rel=1e-3)
    smoke = load_spec("smoke", TARGET)
    assert smoke.level_at(0) == 1 and smoke.stage_windows() == [{"start_s": 0.0, "end_s": 60.0, "kind": "hold"}]
    arrival = load_spec("arrival", TARGET)
    assert arrival.model == "open" and arrival.max_vus == 500


def test_overrides():
    constant = load_spec("load", TARGET, overrides={"vus": 7, "duration": "10s"})
    assert (constant.start, constant.stages, constant.max_vus) == (7, [{"duration_s": 10.0, "target": 7}], 7)
    scaled = load_spec("load", TARGET, overrides={"duration": "27s"})
    assert [s["duration_s"] for s in scaled.stages] == pytest.approx([3, 6, 3, 12, 3])
    rate = load_spec("smoke", TARGET, overrides={"rate": 50, "duration": "5s", "vus": 9})
    assert (rate.model, rate.start, rate.max_vus) == ("open", 50, 9)


def test_single_url_is_get_of_that_exact_url():
    spec = load_spec("smoke", "http://127.0.0.1:9/a/b?x=1", class_name="health")
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.url, endpoint.method, endpoint.class_name) == (
        "GET /a/b?x=1",
        "http://127.0.0.1:9/a/b?x=1",
        "GET",
        "health",
    )


def test_demo_scenario_is_a_journey_of_every_class():
    spec = load_spec("smoke", TARGET, DEMO, secret_headers=["X-Run"])
    assert spec.endpoints == [] and "X-Run" not in spec.journey.headers and spec.secret_headers == ["X-Run"]
    assert {s.class_name for s in spec.journey.journey.steps} == {"health", "api", "tool"}
    assert spec.journey.feeders["users"].file == "include/config/scenarios/demo_users.csv"


def test_flat_scenario_class_filter_and_headers(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text(
        "headers: {Accept: text/plain}\nendpoints:\n  - {name: h, path: /health, class: health}\n"
        "  - {name: c, method: POST, path: /items, expect_status: 201, json: {a: 1}}\n"
    )
    spec = load_spec("smoke", TARGET, flat, secret_headers=["Authorization"])
    create = next(e for e in spec.endpoints if e.name == "c")
    assert (create.method, create.url, create.expect_status) == ("POST", TARGET + "/items", [201])
    assert all(e.headers == {"Accept": "text/plain"} for e in spec.endpoints)  # credentials: values at run time
    assert [e.name for e in load_spec("smoke", TARGET, flat, class_name="health").endpoints] == ["h"]


def test_spec_round_trips_through_json():
    spec = load_spec("arrival", TARGET, DEMO, secret_headers=["Authorization"], credentials_conn_id="perf_target_http")
    again = LoadSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert (again.secret_headers, again.credentials_conn_id) == (["Authorization"], "perf_target_http")


def test_a_received_spec_of_the_wrong_shape_is_refused_naming_every_field():
    data = load_spec("smoke", TARGET).to_dict()
    data |= {"max_vus": "many", "stages": [{"duration_s": 1, "target": -1}], "retries": 3}
    data["endpoints"][0]["weight"] = "heavy"
    with pytest.raises(ValueError) as refused:
        LoadSpec.from_dict(data)
    text = str(refused.value)
    for field in ("spec.stages[0].target", "spec.endpoints[0].weight", "spec.max_vus", "spec.retries"):
        assert field in text
    assert "\n" not in text and "heavy" not in text


def test_a_received_journey_and_named_scenarios_are_typed_and_a_bad_one_is_refused_on_one_line():
    data = load_spec("smoke", TARGET, DEMO).to_dict()
    assert isinstance(LoadSpec.from_dict(data).journey, ScenarioFile)
    data["journey"]["journey"]["steps"][0]["path"] = 5
    data["scenarios"] = [{"model": "sideways", "stages": [], "max_vus": 1, "scenario": "a"}]
    with pytest.raises(ConfigError) as refused:
        LoadSpec.from_dict(data)
    text = str(refused.value)
    assert "spec.journey.journey" in text and "steps[0].path" in text and "spec.scenarios[0].model" in text
    assert "\n" not in text


def test_received_stop_rules_think_time_and_k6_run_are_typed_and_round_trip():
    spec = load_spec(
        "smoke",
        TARGET,
        overrides={"abort_rules": [{"metric": "p95_ms", "limit": 100, "window_s": 0.5}], "think_time": ["1s", "2s"]},
    )
    spec = replace(spec, k6=K6Run(script="load.js", vus=2, stages=[("10s", 5)], options={"thresholds": {}}))
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["k6"]["stages"] == [["10s", 5]] and data["circuit_breaker"]["window_s"] == 10.0
    again = LoadSpec.from_dict(data)
    assert again == spec
    assert again.abort_rules == [AbortRule(metric="p95_ms", limit=100, window_s=1.0, delay_s=1.0)]  # normalised
    assert again.circuit_breaker == CircuitBreaker() and again.think_time == ThinkTime(kind="uniform", max_s=2, min_s=1)
    assert again.k6.options == {"thresholds": {}}


def test_a_received_bad_abort_rule_breaker_think_time_or_k6_run_is_refused_on_one_line():
    data = load_spec("smoke", TARGET).to_dict()
    data |= {
        "abort_rules": [{"metric": "p42_ms", "limit": 1}],
        "circuit_breaker": {"error_rate": "often"},
        "think_time": {"kind": "sometimes"},
        "k6": {"script": 3},
    }
    with pytest.raises(ConfigError) as refused:
        LoadSpec.from_dict(data)
    text = str(refused.value)
    named = ("spec.abort_rules[0].metric", "spec.circuit_breaker.error_rate", "spec.think_time.kind", "spec.k6.script")
    assert all(field in text for field in named) and "\n" not in text


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"profile": "nope"}, r"profile: unknown profile 'nope'"),
        ({"overrides": {"vus": 6000}}, r"vus: 6000 exceeds the cap of 5000"),
        ({"overrides": {"rate": 10**6}}, r"rate: 1e\+06 req/s exceeds the cap"),
        ({"overrides": {"duration": "3h"}}, r"duration: 10800 s exceeds the cap"),
        ({"overrides": {"vus": -1}}, r"vus: expected a number >= 0, got -1"),
        ({"overrides": {"speed": 1}}, r"speed: unknown override; known: vus, duration, rate"),
        ({"overrides": {"abort_rules": [{"metric": "p42", "limit": 1}]}}, r"abort_rules\[0\]\.metric.*'p42'"),
        (
            {"overrides": {"abort_rules": [{"metric": "p95_ms", "limit": True, "window_s": "3x"}]}},
            r"abort_rules\[0\]\.limit: expected a number, got True; abort_rules\[0\]\.window_s: expected a duration "
            r"like '30s', '1m' or '500ms', got '3x'$",
        ),
        ({"target": "ftp://127.0.0.1/"}, r"target: expected an http:// or https:// URL"),
        ({"overrides": {"timeout": 0}}, r"timeout: expected more than 0 s and at most 600 s, got 0"),
        ({"overrides": {"timeout": "11m"}}, r"timeout: expected more than 0 s and at most 600 s, got '11m'"),
        ({"overrides": {"max_body_bytes": 0}}, r"max_body_bytes: expected a number >= 1, got 0"),
        ({"overrides": {"max_redirects": -1}}, r"max_redirects: expected a whole number from 0 to 100, got -1"),
        ({"overrides": {"max_redirects": "5"}}, r"max_redirects: expected a whole number from 0 to 100, got '5'"),
        ({"overrides": {"cookies": "no"}}, r"cookies: expected true or false, got 'no'"),
    ],
)
def test_bad_input_names_field_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_spec(**{"profile": "smoke", "target": TARGET, **kwargs})


def test_every_bad_override_and_every_bad_profile_field_is_named_at_once(tmp_path):
    with pytest.raises(ValueError) as overrides:
        load_spec("smoke", TARGET, overrides={"vus": "lots", "cookies": "no", "timeout": 0, "speed": 1})
    assert str(overrides.value).split("; ")[:3] == [
        "vus: expected a number >= 0, got 'lots'",
        "timeout: expected more than 0 s and at most 600 s, got 0",
        "cookies: expected true or false, got 'no'",
    ]
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("profiles:\n  smoke: {model: shut, start: -2, stages: [{duration: soon, target: 1}]}\n")
    with pytest.raises(ValueError) as profile:
        load_spec("smoke", TARGET, profiles_file=profiles)
    text = str(profile.value)
    for field in ("profiles.smoke.model", "profiles.smoke.start", "profiles.smoke.stages[0].duration"):
        assert f"{field}: " in text
    assert "line 2" in text and "soon" not in text and "shut" not in text


def test_redirects_and_cookies_default_on_and_the_scenario_or_an_override_turns_them_off(tmp_path):
    assert (load_spec("smoke", TARGET).max_redirects, load_spec("smoke", TARGET).cookies) == (10, True)
    scenario = tmp_path / "s.yaml"
    scenario.write_text("cookies: false\nmax_redirects: 0\nendpoints:\n  - {name: a, path: /a}\n")
    spec = load_spec("smoke", TARGET, scenario)
    assert (spec.max_redirects, spec.cookies) == (0, False)
    spec = load_spec("smoke", TARGET, scenario, overrides={"max_redirects": 3, "cookies": True})
    assert (spec.max_redirects, spec.cookies) == (3, True)
    scenario.write_text("max_redirects: 101\nendpoints:\n  - {name: a, path: /a}\n")
    with pytest.raises(ValueError, match=r"s.yaml: max_redirects: .*100"):
        load_spec("smoke", TARGET, scenario)


def test_bad_scenario_names_file_field_and_value(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("endpoints:\n  - {name: a, path: /a, method: FETCH}\n")
    with pytest.raises(ValueError, match=r"s.yaml: endpoints\[0\]\.method.*\(got a string; line 2, column 33\)"):
        load_spec("smoke", TARGET, scenario)
    scenario.write_text("endpoints:\n  - {name: a, path: /a, expect: 200}\n")
    with pytest.raises(ValueError, match=r"s.yaml: endpoints\[0\]\.expect: unknown field.*\(got a number; line 2"):
        load_spec("smoke", TARGET, scenario)


def test_allowlist(monkeypatch):
    assert check_target("http://LOCALHOST:80/x") == "localhost"
    with pytest.raises(TargetNotAllowed, match=r"'example\.com'.*not in the allowlist"):
        check_target("https://example.com/")
    monkeypatch.setenv("PERFPIPE_TARGET_ALLOWLIST", "svc.internal, other")
    assert check_target("http://svc.internal:8080/") == "svc.internal"
    with pytest.raises(TargetNotAllowed):
        load_spec("smoke", "http://127.0.0.1:8000")
    assert load_spec("smoke", "http://127.0.0.1:8000", allowlist="127.0.0.1").allowlist == ["127.0.0.1"]
    with pytest.raises(TargetNotAllowed):  # absolute URLs in a scenario are checked too
        check_target("http://127.0.0.1:8001/", ["127.0.0.1:8000"])


def test_arrival_schedule_inverts_the_rate_integral():
    constant = ArrivalSchedule(load_spec("smoke", TARGET, overrides={"rate": 100, "duration": "10s"}))
    assert constant.total == 1000 and constant.time_of(250) == pytest.approx(2.5) and constant.time_of(1000) is None
    ramp = ArrivalSchedule(
        load_spec(
            "smoke", TARGET, overrides={"model": "open", "stages": [{"duration": "10s", "target": 100}], "max_vus": 10}
        )
    )
    assert ramp.total == 500 and ramp.time_of(125) == pytest.approx(5.0)  # 100/10 * t^2 / 2 = 125 at t = 5
    assert ramp.time_of(0) == 0.0 and ramp.time_of(499.99) < 10 and ramp.time_of(500) is None
    down = ArrivalSchedule(load_spec("arrival", TARGET))  # 0 -> 200 over 30 s, hold 2 min, 200 -> 0 over 30 s
    assert down.total == 3000 + 24000 + 3000 and down.time_of(28500) == pytest.approx(150 + 30 - 30 * 0.5**0.5)


def test_share_splits_exactly():
    assert [share(10, i, 3) for i in range(3)] == [4, 3, 3]
    assert sum(share(7, i, 4) for i in range(4)) == 7


def test_allowlist_from_the_profiles_file(tmp_path, monkeypatch):
    monkeypatch.delenv("PERFPIPE_TARGET_ALLOWLIST", raising=False)
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "target_allowlist: [svc.test]\nprofiles:\n  p: {model: closed, stages: [{duration: 1s, target: 1}]}\n"
    )
    assert load_spec("p", "http://svc.test/", profiles_file=profiles).allowlist == ["svc.test"]
    with pytest.raises(TargetNotAllowed):
        load_spec("p", "http://127.0.0.1/", profiles_file=profiles)
    monkeypatch.setenv("PERFPIPE_TARGET_ALLOWLIST", "127.0.0.1")
    assert load_spec("p", "http://127.0.0.1/", profiles_file=profiles).allowlist == ["127.0.0.1"]
