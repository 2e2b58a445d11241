"""The recorder's breakdown by scenario, group, step, class and tag, merged exactly."""

import json

from include.perfpipe.metrics import ALL, DEFAULT_SCENARIO, MetricsRecorder, overall


def _scenario(name: str, requests: int, latency_s: float) -> MetricsRecorder:
    rec = MetricsRecorder(name)
    rec.label("login", None, {"flow": name, "kind": "auth"})
    rec.label("pay", "checkout", {"flow": name})
    for i in range(requests):
        rec.record("login", "api", latency_s, True, 200, i / requests)
        rec.record("pay", "api", latency_s * 2, i % 4 != 0, 200 if i % 4 else 500, 1 + i / requests)
        rec.record_checks("pay", "api", 1, i % 2)
        rec.set_active_vus(i / requests, 3)
    return rec


def test_stats_rows_per_scenario_group_and_tag_add_up():
    browse, checkout = _scenario("browse", 40, 0.01), _scenario("checkout", 20, 0.05)
    merged = MetricsRecorder.merge([MetricsRecorder.from_dict(browse.to_dict()), checkout])
    stats = merged.stats_frame(2.0)
    rows = {(r["scope"], r["scenario"], r["name"]): r for r in stats.to_dict("records")}
    assert rows[("scenario", "checkout", "checkout")]["count"] == 40
    assert rows[("scenario", "browse", "browse")]["count"] == 80
    pay = rows[("group", "checkout", "checkout")]
    assert pay["count"] == 20 and pay["errors"] == 5 and pay["p50_ms"] > 90
    assert rows[("endpoint", "browse", "pay")]["group_name"] == "checkout"
    assert json.loads(rows[("endpoint", "browse", "login")]["tags"]) == {"flow": "browse", "kind": "auth"}
    assert rows[("tag", ALL, "kind=auth")]["count"] == 60
    assert rows[("tag", ALL, "flow=checkout")]["count"] == 40
    assert rows[("total", ALL, ALL)]["count"] == 120
    checks = rows[("endpoint", "checkout", "pay")]
    assert (checks["checks_passed"], checks["checks_failed"]) == (20, 10) and checks["check_pass_rate"] == 20 / 30
    assert (
        rows[("endpoint", "browse", "login")]["check_pass_rate"]
        != rows[("endpoint", "browse", "login")]["check_pass_rate"]
    )


def test_timeseries_rows_per_scenario_beside_the_overall_ones():
    merged = MetricsRecorder.merge([_scenario("browse", 40, 0.01), _scenario("checkout", 20, 0.05)])
    series = merged.timeseries_frame()
    every = overall(series)
    assert every[every["class_name"] == ALL]["requests"].sum() == 120
    mine = series[(series["scenario"] == "checkout") & (series["class_name"] == ALL)]
    assert mine["requests"].sum() == 40 and mine["active_vus"].max() == 3
    assert every[every["class_name"] == ALL]["active_vus"].max() == 6


def test_one_implicit_scenario_keeps_the_old_rows_and_old_dicts_load():
    rec = MetricsRecorder()
    rec.record("get", "api", 0.01, True, 200, 0.5)
    old = rec.to_dict()
    for e in old["endpoints"]:
        del e["scenario"], e["group"], e["tags"], e["checks_passed"], e["checks_failed"]
    for s in old["seconds"]:
        del s["scenario"]
    del old["scenario_vus"]
    loaded = MetricsRecorder.from_dict(old)
    assert set(loaded.stats_frame(1.0)["scope"]) == {"endpoint", "class", "total"}
    assert set(loaded.timeseries_frame()["scenario"]) == {ALL}
    assert loaded.endpoints[(DEFAULT_SCENARIO, "get")].count == 1
