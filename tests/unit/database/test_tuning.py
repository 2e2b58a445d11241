"""The tuning loop's arithmetic: which findings it applies, and the before/after deltas per query, endpoint
and class (classes judged by the regression comparison, endpoints by the noise band)."""

from __future__ import annotations

import random

from include.perfpipe.database.tuning import change, tuning_outcome, tuning_view, verified_index_findings
from include.perfpipe.metrics import MetricsRecorder

INDEX = {"schema": "public", "table": "items", "columns": ["category", "price"], "name": "items_category_price_idx"}


def _advice(status: str, check: str = "index_advice", name: str = INDEX["name"]) -> dict:
    return {
        "check": check,
        "object": f"public.{name}",
        "sql": "CREATE INDEX CONCURRENTLY ...",
        "evidence": {"status": status, "index": {**INDEX, "name": name}, "queryid": 11, "queries": [{"queryid": 11}]},
    }


def _load(search_ms: float, seed: int, seconds: int = 30, login_ms: float | None = None) -> dict:
    rng, rec = random.Random(seed), MetricsRecorder()
    for _vu in range(5 if login_ms else 0):  # once a VU, as a journey's setup
        rec.record("login", "auth", login_ms * rng.uniform(0.9, 1.1) / 1000, True, 200, rng.random())
    for t in range(seconds):
        rec.set_active_vus(t, 5)
        for _ in range(20):
            name, class_name, ms = rng.choice(
                [("search_items", "api", search_ms), ("get_item", "api", 3.0), ("health", "health", 1.0)]
            )
            rec.record(name, class_name, ms * rng.uniform(0.8, 1.25) / 1000, True, 200, t + rng.random())
    return {
        "spec": {},
        "started_at": "2026-12-02T08:00:00+00:00",
        "ended_at": "2026-12-02T08:00:30+00:00",
        "duration_s": float(seconds),
        "metrics": rec.to_dict(),
        "stages": [{"start_s": 0, "end_s": seconds, "kind": "hold"}],
        "health": {"saturated": False, "reasons": []},
        "aborted": False,
        "abort_reason": None,
    }


def _window(search_mean_ms: float) -> list[dict]:
    return [
        {
            "queryid": 11,
            "query": "SELECT ... WHERE category = $1",
            "calls": 200,
            "total_ms": 200 * search_mean_ms,
            "mean_ms": search_mean_ms,
        },
        {"queryid": 12, "query": "SELECT * FROM items WHERE id = $1", "calls": 300, "total_ms": 9.0, "mean_ms": 0.03},
    ]


def test_only_verified_index_findings_are_applied():
    findings = [
        _advice("verified"),
        _advice("unverified", name="other_idx"),
        _advice("verified", "fk_without_index", "lines_order_id_idx"),
        {"check": "unused_indexes", "object": "public.x", "evidence": {"status": "verified"}},
    ]
    assert [f["object"] for f in verified_index_findings(findings)] == [
        "public.items_category_price_idx",
        "public.lines_order_id_idx",
    ]


def test_change_verdicts_use_a_noise_band():
    assert change(50.0, 5.0) == {"before": 50.0, "after": 5.0, "ratio": 10.0, "delta_pct": -90.0, "verdict": "better"}
    assert change(10.0, 11.5)["verdict"] == "same" and change(10.0, 12.5)["verdict"] == "worse"
    assert change(2.0, 2.9)["verdict"] == "same"  # under 1 ms
    assert change(None, 3.0)["verdict"] == "unknown"


def test_outcome_reports_query_endpoint_and_class_deltas():
    applied = [
        {
            "check": "index_advice",
            "object": "public.items_category_price_idx",
            "status": "applied",
            "sql": "CREATE INDEX CONCURRENTLY ...",
            "seconds": 0.4,
            "message": "",
        }
    ]
    before = {"load": _load(40.0, 1), "statements_window": _window(9.0)}
    after = {"load": _load(2.0, 2), "statements_window": _window(0.08)}
    outcome = tuning_outcome([_advice("verified")], applied, before, after)
    [search_query, other_query] = outcome["queries"]
    assert search_query["indexes"] == ["items_category_price_idx"] and search_query["mean_ms"]["verdict"] == "better"
    assert other_query["indexes"] == [] and other_query["mean_ms"]["verdict"] == "same"
    rows = {(r["scope"], r["name"]): r["p95"] for r in outcome["latency"]}
    assert rows[("endpoint", "search_items")]["ratio"] > 10
    assert rows[("endpoint", "get_item")]["verdict"] == "same"
    assert rows[("class", "health")]["verdict"] == "same" and rows[("class", "api")]["verdict"] == "better"
    assert outcome["worse"] == []
    assert outcome["headline"].startswith("index items_category_price_idx cut search_items p95 from ")
    view = tuning_view(outcome)
    assert view["latency"][0].keys() >= {"p95_before_ms", "p95_after_ms", "ratio", "verdict"}
    assert view["applied"][0]["status"] == "applied"


APPLIED = [{"check": "index_advice", "object": "public.items_category_price_idx", "status": "applied"}]


def test_headline_names_the_endpoint_with_the_most_time_saved_not_a_rare_requests_ratio():
    # search 8 -> 3 ms on ~200 requests (2.7x); a login made once a VU 9 -> 2.6 ms on 5 (3.4x, as CI saw)
    before = {"load": _load(8.0, 1, login_ms=9.0), "statements_window": _window(9.0)}
    after = {"load": _load(3.0, 2, login_ms=2.6), "statements_window": _window(0.08)}
    outcome = tuning_outcome([_advice("verified")], APPLIED, before, after)
    rows = {(r["scope"], r["name"]): r["p95"] for r in outcome["latency"]}
    assert rows[("endpoint", "login")]["ratio"] > rows[("endpoint", "search_items")]["ratio"]
    assert outcome["headline"].startswith("index items_category_price_idx cut search_items p95 from ")


def test_no_endpoint_beyond_the_noise_band_is_said_not_credited():
    before = {"load": _load(3.0, 1), "statements_window": _window(0.1)}
    after = {"load": _load(3.0, 2), "statements_window": _window(0.08)}
    outcome = tuning_outcome([_advice("verified")], APPLIED, before, after)
    assert outcome["headline"] == "index items_category_price_idx: no endpoint's p95 changed beyond the noise band"


def test_nothing_applied_means_no_rerun_and_no_headline():
    recommended = [{"check": "index_advice", "object": "public.items_category_price_idx", "status": "recommended"}]
    outcome = tuning_outcome(
        [_advice("verified")], recommended, {"load": _load(40.0, 1), "statements_window": []}, None
    )
    assert outcome["rerun"] is False and outcome["headline"] is None and outcome["latency"] == []
    assert tuning_view(None) is None
