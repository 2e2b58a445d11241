"""End to end on PostgreSQL 15: runs saved through ResultsStore, compared and trended from what it returns."""

import pytest

from include.perfpipe.regression import compare_runs, gate_decision, regression_section
from tests.integration.regression.conftest import DAG, PROFILE, RUNS, SLOW_FROM, TARGET
from tests.unit.regression.synthetic import synthetic_run

pytestmark = pytest.mark.integration


def _compare_with_baseline(store, run_id):
    baseline = store.baseline(TARGET, PROFILE, exclude=(DAG, run_id))
    return compare_runs(store.run_frames(DAG, baseline["run_id"]), store.run_frames(DAG, run_id))


def test_nightly_regression_is_found_from_stored_runs(store):
    store.mark_baseline(DAG, "night03")
    comparison = _compare_with_baseline(store, "night11")
    api = comparison[(comparison["name"] == "api") & (comparison["metric"] == "p95_ms")].iloc[0]
    assert api["direction"] == "regression" and 12 < api["change_pct"] < 28
    assert gate_decision(comparison)["regressed"] is True

    section = regression_section(comparison, store.history(TARGET, PROFILE, limit=20))
    assert [p["run_id"] for p in section["trend"]] == [f"night{i:02d}" for i in range(RUNS)]
    assert section["trend"][3]["is_baseline"] is True
    p95_points = [c for c in section["change_points"] if c["metric"] == "p95_ms"]
    assert len(p95_points) == 1 and abs(p95_points[0]["index"] - SLOW_FROM) <= 1
    assert p95_points[0]["direction"] == "regression"


def test_stored_frames_compare_like_the_frames_they_came_from(store):
    from include.perfpipe.regression import run_frames

    stored = compare_runs(store.run_frames(DAG, "night00"), store.run_frames(DAG, "night01"))
    direct = compare_runs(run_frames(synthetic_run(100)), run_frames(synthetic_run(101)))
    assert stored[["scope", "name", "metric"]].equals(direct[["scope", "name", "metric"]])
    assert (stored["baseline"] - direct["baseline"]).abs().max() < 1e-6
    assert (stored["p_value"].fillna(-1) - direct["p_value"].fillna(-1)).abs().max() < 1e-9


def test_a_marked_baseline_in_the_slow_regime_calls_no_regression(store):
    store.mark_baseline(DAG, "night08")
    comparison = _compare_with_baseline(store, "night11")
    assert gate_decision(comparison)["regressed"] is False
