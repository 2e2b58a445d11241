"""``scenario from-openapi`` on the demo service's own /openapi.json: every operation is included and
runs with no unexpected status, ids created by one call feed the next, and nobody gets a 401."""

import httpx
import pytest
import yaml

from include.perfpipe.cli import main
from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.loadtest.journey.scenario import read_scenario
from tests.unit.loadtest.test_spec import DEMO
from tests.unit.recording.fixed_secrets import fixed_secrets

pytestmark = pytest.mark.integration


def test_every_operation_of_the_demo_runs_with_no_unexpected_status(demo_service, tmp_path, capsys):
    scenario = tmp_path / "api.yaml"
    users = str(DEMO.parent / "demo_users.csv")
    assert (
        main(["scenario", "from-openapi", f"{demo_service}/openapi.json", "-o", str(scenario), "--credentials", users])
        == 0
    )
    assert "left out" not in capsys.readouterr().err
    journey = read_scenario(scenario).journey
    assert fixed_secrets(yaml.safe_load(scenario.read_text())) == []
    spec = httpx.get(f"{demo_service}/openapi.json").json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    assert len(journey.setup) == 1 and len(journey.setup) + len(journey.steps) == operations
    named = {step.name: step for step in journey.steps}
    assert named["get_item"].path == "/items/{{ item_id }}" and named["get_order"].path == "/orders/{{ order_id }}"
    order = [step.name for step in journey.steps]
    assert order.index("post_items") < order.index("get_item") < order.index("post_orders") < order.index("get_order")
    before = httpx.get(f"{demo_service}/journal").json()
    spec = load_spec("smoke", demo_service, scenario, overrides={"vus": 2, "duration": "2s"})
    rows = run_load_test(spec, processes=1).stats_frame().set_index("name")
    after = httpx.get(f"{demo_service}/journal").json()
    steps = rows.loc[[step.name for step in [*journey.setup, *journey.steps]]]
    assert (steps["count"] > 0).all() and steps["errors"].sum() == 0, steps[["count", "errors"]]
    assert after["unauthorised"] == before["unauthorised"] and after["logins"] - before["logins"] == 2
    assert after["order_reads_missing"] == before["order_reads_missing"]
