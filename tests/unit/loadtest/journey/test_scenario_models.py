"""The scenario format: typed models, errors naming field and value, references checked at load."""

import json
import textwrap

import pytest

from include.perfpipe.loadtest import LoadSpec, TargetNotAllowed, load_spec
from include.perfpipe.loadtest.clients.choice import HttpClients
from include.perfpipe.loadtest.journey.compiled import CompiledJourney, compiled_journey, think_sampler
from include.perfpipe.loadtest.journey.models import ThinkTime
from include.perfpipe.loadtest.journey.scenario import feeder_rows, read_scenario

TARGET = "http://127.0.0.1:8000"
JOURNEY = """
feeders:
  users: {file: users.csv, strategy: sequential, when_exhausted: recycle}
think_time: [0.1s, 0.2s]
journey:
  on_failure: restart
  pacing: 2s
  headers: {Authorization: "Bearer {{ token }}"}
  setup:
    - name: login
      method: POST
      path: /auth/login
      json: {username: "{{ users.username }}", password: "{{ users.password }}"}
      extract: {token: $.token}
  steps:
    - {name: list, path: "/items?offset={{ random_int(0, 100) }}", extract: {item_id: {json: "$[*].id", pick: random}}}
    - name: order
      method: POST
      path: /orders
      json: {item_id: "{{ item_id }}"}
      expect_status: 201
      checks: [{json: $.id}, {status: 201, fail_request: true}]
      think_time: {exponential: 1s}
"""


def _write(tmp_path, text, users="username,password\nu1,p1\nu2,p2\n"):
    (tmp_path / "users.csv").write_text(users)
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_journey_scenario_becomes_a_spec_that_round_trips(tmp_path):
    spec = load_spec("smoke", TARGET, _write(tmp_path, JOURNEY), secret_headers=["X-Env"])
    assert spec.endpoints == [] and spec.journey.journey.pacing == 2.0
    again = LoadSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    journey = CompiledJourney(again.journey, TARGET)
    assert [s.name for s in journey.all_steps] == ["login", "list", "order"]
    login, listing, order = journey.all_steps
    assert "Authorization" not in str(login.request._head) and login.request.refs == {
        "users.username",
        "users.password",
    }
    assert listing.request.refs == {"token"} and order.on_failure == "restart" and order.keep_body
    assert [c.key for c in order.checks] == ["order: $.id exists", "order: status in [201]"]
    assert again.journey.headers == {} and again.secret_headers == ["X-Env"]  # credentials: names only, values later
    assert spec.urls() == [
        TARGET + "/auth/login",
        TARGET + "/items?offset={{ random_int(0, 100) }}",
        TARGET + "/orders",
    ]


def test_feeder_paths_are_relative_to_the_scenario_file(tmp_path):
    scenario = read_scenario(_write(tmp_path, JOURNEY))
    assert scenario.feeders["users"].file == str(tmp_path / "users.csv")
    assert feeder_rows(scenario)["users"][1] == {"username": "u2", "password": "p2"}


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ("{{ item_id }}", "{{ order_id }}"),
            r"journey.steps\[1\]: \{\{ order_id \}\} is not set by journey.variables",
        ),
        (("users.password", "users.pin"), r"feeder 'users' has no column 'pin'; columns: \['password', 'username'\]"),
        (("users.username", "people.username"), r"\{\{ people.username \}\} names no feeder"),
        (
            ("pick: random", "pick: any"),
            r"journey.steps\[0\].extract.item_id.pick: Input should be 'first'.*\(got a string; line \d+",
        ),
        (
            ("expect_status: 201", "expect_status: 99"),
            r"journey.steps\[1\].expect_status\[0\]: .*greater than or equal to 100",
        ),
        (
            ("on_failure: restart", "on_failure: retry"),
            r"journey.on_failure: .*'continue', 'restart' or 'stop' \(got a string; line \d+",
        ),
        (("name: order", "name: list"), r"journey.steps\[1\].name: duplicate step name 'list'"),
        (("pacing: 2s", "pacing: soon"), r"journey.pacing: .*\(got a string; line \d+"),
        (("strategy: sequential", "strategy: shuffled"), r"feeders.users.strategy: .*\(got a string; line \d+"),
        (("{json: $.id}", "{json: $.id, length: 2, equals: 1}"), r"checks\[0\]: give one of exists, equals or length"),
        (("$[*].id", "$[?(@.id)]"), r"extract.item_id.json: .*cannot read from"),
        (("{Authorization:", "{Bad Name:"), r"journey.headers: header name 'Bad Name' is not a valid HTTP token"),
    ],
)
def test_bad_journeys_name_the_field_and_line(tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        load_spec("smoke", TARGET, _write(tmp_path, JOURNEY.replace(*edit)))


def test_bad_files_are_errors_not_tracebacks(tmp_path):
    with pytest.raises(ValueError, match=r"s.yaml: not valid YAML"):
        load_spec("smoke", TARGET, _write(tmp_path, "journey: {steps: [}"))
    with pytest.raises(ValueError, match=r"s.yaml: scenario: give 'endpoints' .* or 'journey'"):
        load_spec("smoke", TARGET, _write(tmp_path, "timeout: 5s\n"))
    with pytest.raises(ValueError, match=r"feeders.users.file: .*has no rows"):
        load_spec("smoke", TARGET, _write(tmp_path, JOURNEY, users="username,password\n"))
    with pytest.raises(ValueError, match=r"journey: expected a journey mapping or 'module:function' \(got a string"):
        load_spec("smoke", TARGET, _write(tmp_path, "journey: x\n"))
    with pytest.raises(ValueError, match=r"class: 'api' filters a flat endpoints list"):
        load_spec("smoke", TARGET, _write(tmp_path, JOURNEY), class_name="api")


def test_absolute_step_urls_pass_the_allowlist(tmp_path):
    with pytest.raises(TargetNotAllowed):
        load_spec("smoke", TARGET, _write(tmp_path, JOURNEY.replace("path: /orders", "url: http://example.com/o")))


def test_a_journey_is_compiled_once_from_plan_to_run_and_gets_the_run_s_credentials_there(tmp_path, monkeypatch):
    made, compile_once = [], CompiledJourney.__init__
    monkeypatch.setattr(CompiledJourney, "__init__", lambda self, *args: made.append(args) or compile_once(self, *args))
    spec = load_spec("smoke", TARGET, _write(tmp_path, JOURNEY), secret_headers=["X-Env"])
    run = HttpClients.generator(spec, secret_headers={"X-Env": "prod"})  # the run's client, in the plan's process
    assert len(made) == 1
    assert b"X-Env: prod\r\n" in run.journey.steps[0].request._head  # to the target's own origin only
    assert b"X-Env" not in compiled_journey(spec.journey, TARGET).steps[0].request._head  # the plan has names only
    assert len(made) == 1


def test_templated_flat_endpoints_become_a_weighted_journey_and_plain_ones_stay_fast(tmp_path):
    plain = load_spec("smoke", TARGET, _write(tmp_path, "endpoints: [{path: /a, weight: 2}, {path: /b}]"))
    assert [e.url for e in plain.endpoints] == [TARGET + "/a", TARGET + "/b"] and plain.journey is None
    assert [e.name for e in plain.endpoints] == ["endpoint_0", "endpoint_1"]
    templated = load_spec("smoke", TARGET, _write(tmp_path, "endpoints: [{name: a, path: '/a/{{ vu }}'}, {path: /b}]"))
    journey = CompiledJourney(templated.journey, TARGET)
    assert journey.weights == [1.0, 2.0] and {journey.pick().name for _ in range(100)} == {"a", "endpoint_1"}


def test_think_times():
    assert think_sampler(ThinkTime.model_validate("0s")) is None
    assert think_sampler(ThinkTime.model_validate("1s"))() == 1.0
    assert 0.5 <= think_sampler(ThinkTime.model_validate(["0.5s", "1s"]))() <= 1.0
    assert think_sampler(ThinkTime.model_validate({"uniform": [1, 2]}))() >= 1
    samples = [think_sampler(ThinkTime.model_validate({"exponential": "100ms"}))() for _ in range(4000)]
    assert 0.09 < sum(samples) / len(samples) < 0.11 and min(samples) >= 0
    with pytest.raises(ValueError, match="expected constant, uniform or exponential, got 'normal'"):
        ThinkTime.model_validate({"normal": 1})
