"""The demo journey (include/config/scenarios/demo.yaml) against the demo service, proved by the
service's own counts: no 401s, every order read names an order it created, hundreds of distinct
items, one token per VU."""

import httpx
import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from tests.conftest import running_demo_service
from tests.unit.loadtest.test_spec import DEMO

pytestmark = pytest.mark.integration
VUS = 16


def test_demo_journey_is_a_real_workload(demo_db_url):
    with running_demo_service(demo_db_url) as base_url:
        spec = load_spec("smoke", base_url, DEMO, overrides={"vus": VUS, "duration": "8s"})
        result = run_load_test(spec)
        counts = httpx.get(f"{base_url}/journal").json()
    rows = result.stats_frame().set_index("name")
    assert counts["unauthorised"] == 0 and counts["logins"] == VUS
    assert counts["distinct_tokens_used"] == VUS
    assert counts["order_reads"] > 0 and counts["order_reads_missing"] == 0
    assert counts["order_reads"] == rows.loc["get_order", "count"]
    # ids drawn from 50,000 items: nearly every read is of a new item, however fast the machine is
    item_reads = rows.loc["get_item", "count"]
    assert item_reads >= 100 and counts["distinct_items_read"] >= 0.95 * item_reads
    assert rows.loc["all", "errors"] == 0
    journey = result.summary()["journey"]
    assert journey["checks"]["get_order: $.item_id exists"]["failed"] == 0 and journey["iterations"] > 0


CART_JOURNEY = """
headers: {{Accept: application/json}}
feeders:
  users: {{file: {users}, strategy: sequential, per: vu, when_exhausted: recycle}}
journey:
  headers: {{Authorization: "Bearer {{{{ token }}}}"}}
  setup:
    - name: login
      method: POST
      path: /auth/login
      json: {{username: "{{{{ users.username }}}}", password: "{{{{ users.password }}}}"}}
      extract: {{token: $.token}}
  steps:
    - {{name: add_to_cart, method: POST, path: /cart/items, json: {{item_id: "{{{{ random_int(1, 50000) }}}}"}}}}
    - {{name: show_cart, path: /cart, extract: {{cart: $.cart}}}}
"""


def test_the_cookie_session_cart_keeps_one_cart_per_vu(demo_db_url, tmp_path):
    """Each VU's jar carries the ``cart`` cookie the service set: every add of a VU lands in its one
    cart, and GET /cart finds it (no cart: ExtractError). With cookies off every add opens a new cart."""
    scenario = tmp_path / "cart.yaml"
    scenario.write_text(CART_JOURNEY.format(users=DEMO.parent / "demo_users.csv"))
    vus = 4
    with running_demo_service(demo_db_url) as base_url:
        result = run_load_test(load_spec("smoke", base_url, scenario, overrides={"vus": vus, "duration": "3s"}))
        on = httpx.get(f"{base_url}/journal").json()
        run_load_test(
            load_spec("smoke", base_url, scenario, overrides={"vus": vus, "duration": "1s", "cookies": False})
        )
        off = httpx.get(f"{base_url}/journal").json()
    rows = result.stats_frame().set_index("name")
    adds = rows.loc["add_to_cart", "count"]
    assert adds > vus and rows.loc["all", "errors"] == 0 and rows.loc["show_cart", "count"] > 0
    assert on["carts"] == vus and on["cart_items"] == adds
    assert off["carts"] - on["carts"] == off["cart_items"] - on["cart_items"] > 0  # one new cart per add
