"""The report's per-scenario sections: named scenarios each get their headline, steps with check pass
rates and their own charts; a run of one implicit scenario gets one section and no duplicate charts."""

import json

from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.reporting import render_report
from tests.unit.reporting import synthetic


def _two_scenarios() -> dict:
    parts = []
    for scenario, step, n, failed_checks in (("browse", "list", 40, 0), ("checkout", "pay", 10, 3)):
        rec = MetricsRecorder(scenario)
        for t in range(10):
            rec.set_active_vus(t, 2)
            for i in range(n // 10):
                rec.record(step, "api", 0.02, True, 200, t + i / 10)
        rec.record_checks(step, "api", 10 - failed_checks, failed_checks)
        parts.append(rec)
    load = synthetic.load_result(seconds=10)
    load["metrics"] = MetricsRecorder.merge(parts).to_dict()
    return load


def _bundle(load):
    return {"run": {"dag_id": "perf_smoke", "run_id": "r1", "profile": "smoke", "target": "t"}, "loadtest": load}


def test_named_scenarios_get_their_own_section_charts_and_check_pass_rates(tmp_path):
    paths = render_report(_bundle(_two_scenarios()), tmp_path)
    html = paths["html"].read_text()
    assert "Scenario browse" in html and "Scenario checkout" in html
    assert 'id="chart-scenario-0-throughput"' in html and 'id="chart-scenario-1-latency"' in html
    sections = {s["name"]: s for s in json.loads(paths["json"].read_text())["scenarios"]}
    assert sections["browse"]["totals"]["count"] == 40 and sections["checkout"]["totals"]["count"] == 10
    assert [st["name"] for st in sections["checkout"]["steps"]] == ["pay"]
    assert sections["checkout"]["checks"] == {"passed": 7, "failed": 3, "pass_rate": 0.7}
    assert sections["browse"]["checks"]["pass_rate"] == 1.0


def test_one_implicit_scenario_has_one_section_and_only_the_overall_charts(tmp_path):
    paths = render_report(_bundle(synthetic.load_result(seconds=10)), tmp_path)
    html = paths["html"].read_text()
    sections = json.loads(paths["json"].read_text())["scenarios"]
    assert [s["name"] for s in sections] == ["default"] and sections[0]["named"] is False
    assert sections[0]["totals"]["count"] == sum(st["count"] for st in sections[0]["steps"]) > 0
    assert "chart-scenario-" not in html and 'id="chart-throughput"' in html
