"""The worked k6 translation in docs/scenarios.md is a scenario that loads: every field, feeder column,
variable and metric it names exists."""

import re
import shutil
from pathlib import Path

from include.perfpipe.loadtest import load_spec
from include.perfpipe.loadtest.journey.models import ScenarioFile

ROOT = Path(__file__).resolve().parents[4]


def test_the_worked_k6_translation_loads_as_a_scenario(tmp_path):
    text = (ROOT / "docs" / "scenarios.md").read_text()
    block = re.search(r"<!-- k6-translation:[^\n]*-->\n```yaml\n(.*?)```", text, re.S).group(1)
    shutil.copy(ROOT / "include" / "config" / "scenarios" / "demo_users.csv", tmp_path / "demo_users.csv")
    (tmp_path / "k6.yaml").write_text(block)
    spec = load_spec("load", "http://127.0.0.1:8000", tmp_path / "k6.yaml")
    scenario = ScenarioFile.model_validate(spec.journey)
    assert set(scenario.metrics) == {"orders_created", "search_hits", "order_time"}
    assert scenario.metrics["order_time"].thresholds["p95"].limit == 800.0
    assert [s.name for s in scenario.journey.steps] == ["search", "get_item", "create_order"]
