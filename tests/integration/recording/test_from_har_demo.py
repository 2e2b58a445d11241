"""A recording of the demo service's shop, converted by ``scenario from-har``, runs against the service
with no edits: proved by the service's own journal (one login per VU, no 401, one cart per VU through
its cookie, every order read back by the id its creation returned, every CSRF token accepted)."""

import json
import re

import httpx
import pytest
import yaml

from include.perfpipe.cli import main
from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.loadtest.journey.scenario import read_scenario
from tests.unit.recording.fixed_secrets import fixed_secrets
from tests.unit.recording.recorder import record_shop

pytestmark = pytest.mark.integration
VUS = 2


@pytest.fixture(scope="module")
def converted(demo_service, tmp_path_factory):
    folder = tmp_path_factory.mktemp("har")
    har = record_shop(demo_service, folder / "shop.har")
    scenario = folder / "shop.yaml"
    assert main(["scenario", "from-har", str(har), "-o", str(scenario)]) == 0
    return har, scenario


def test_the_converted_recording_runs_with_no_edits(demo_service, converted):
    _, scenario = converted
    before = httpx.get(f"{demo_service}/journal").json()
    spec = load_spec("smoke", demo_service, scenario, overrides={"vus": VUS, "duration": "2s"})
    result = run_load_test(spec, processes=1)  # in-process: no worker start-up to pay for
    after = httpx.get(f"{demo_service}/journal").json()
    seen = {key: after[key] - before[key] for key in after}
    rows = result.stats_frame().set_index("name")
    assert rows.loc["all", "errors"] == 0 and rows.loc["get_order", "count"] > 0
    assert seen["logins"] == VUS and seen["distinct_tokens_used"] == VUS and seen["unauthorised"] == 0
    assert seen["carts"] == VUS and seen["cart_items"] == rows.loc["post_cart_items", "count"]
    assert seen["orders_created"] == rows.loc["post_orders", "count"]
    assert seen["order_reads"] == rows.loc["get_order", "count"] and seen["order_reads_missing"] == 0
    assert seen["csrf_accepted"] == VUS and seen["csrf_refused"] == 0


def test_the_journey_has_the_recorded_shape_and_correlations(converted):
    har, path = converted
    scenario = read_scenario(path)
    journey = scenario.journey
    assert [s.name for s in journey.setup] == ["get_newsletter", "post_newsletter", "post_auth_login"]
    assert [s.name for s in journey.steps] == [
        "get_items",
        "get_item",
        "post_cart_items",
        "get_cart",
        "post_orders",
        "get_order",
    ]  # fmt: skip  (the second recorded round kept once)
    assert journey.headers["authorization"] == "Bearer {{ token }}"
    login, items, orders = journey.setup[2], journey.steps[0], journey.steps[4]
    assert login.extract["token"].json_path == "$.token" and [c.json_path for c in login.checks] == ["$.token"]
    assert items.extract["item_id"].json_path == "$[1].id"  # the list element the recording opened
    assert journey.steps[1].path == "/items/{{ item_id }}" and orders.json_body["item_id"] == "{{ item_id }}"
    assert orders.expect_status == [201] and journey.steps[5].path == "/orders/{{ order_id }}"
    assert all(s.url is None for s in [*journey.setup, *journey.steps])


def test_a_csrf_token_is_correlated_and_no_secret_is_written(converted):
    har, path = converted
    text = path.read_text()
    recorded = json.loads(har.read_text())["log"]["entries"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', recorded[0]["response"]["content"]["text"]).group(1)
    bearer = json.loads(
        next(e for e in recorded if e["request"]["url"].endswith("/auth/login"))["response"]["content"]["text"]
    )
    form = read_scenario(path).journey.setup
    assert form[0].extract["csrf_token"].regex and "csrf_token={{ csrf_token }}" in form[1].body
    assert token not in text and bearer["token"] not in text and "pw-1" not in text and "user-1," not in text
    assert fixed_secrets(yaml.safe_load(text)) == []  # loads where fixed secret-looking values are refused
    assert "WARNING" not in text  # the recording kept its Authorization headers
    feeder = path.parent / "shop.credentials.csv"
    assert feeder.read_text() == "username,password\nuser-1,pw-1\n" and feeder.stat().st_mode & 0o077 == 0


def test_third_party_and_static_entries_are_left_out_and_listed(converted):
    har, path = converted
    text = path.read_text()
    hosts = {httpx.URL(e["request"]["url"]).host for e in json.loads(har.read_text())["log"]["entries"]}
    assert {"cdn.example.com", "analytics.example.net"} <= hosts  # recorded ...
    steps = yaml.safe_load(text)["journey"]
    paths = [s["path"] for part in ("setup", "steps") for s in steps[part]]
    assert not any("static" in p or "example" in p for p in paths)  # ... and left out
    assert "Left out: requests to other hosts: analytics.example.net (1), cdn.example.com (1)." in text
    assert "Left out: the target's static assets (--keep-static keeps them): /static/shop.css." in text


def test_the_same_recording_gives_the_same_file(converted):
    har, path = converted
    first = path.read_bytes()
    assert main(["scenario", "from-har", str(har), "-o", str(path)]) == 0
    assert path.read_bytes() == first
