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
