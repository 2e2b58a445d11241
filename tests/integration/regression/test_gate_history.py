"""Nightly runs judged and saved one by one as the publish task does (``record_run``): a run the gate failed is
stored as failing and never becomes a baseline, and ``regression --run`` reproduces a run's published answer."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from include.perfpipe.cli import main
from include.perfpipe.regression.analysis import record_run
from include.perfpipe.store.results_store import ResultsStore
from tests.integration.regression.conftest import PROFILE, SPEC, TARGET
from tests.unit.regression.synthetic import SLOWER_API, synthetic_run

pytestmark = pytest.mark.integration
DAG, NIGHTS, SLOW_FROM = "perf_nightly_gate", 10, 6  # night06.. have every api request 20 % slower


@pytest.fixture(scope="module")
def published(scratch_db):
    """``{run_id: what record_run returned}`` for nights 0..9 published in order, and the store's DSN."""
    dsn = scratch_db("regression_gate")
    store = ResultsStore(dsn)
    store.migrate()
    start, answers = datetime(2026, 11, 1, 1, 0, tzinfo=UTC), {}
    for night in range(NIGHTS):
        slow = SLOWER_API if night >= SLOW_FROM else None
        load = {**synthetic_run(200 + night, seconds=12, scale=slow), "spec": SPEC}  # 12 s: cheap, and enough
        run = {
            "dag_id": DAG,
            "run_id": f"night{night:02d}",
            "profile": PROFILE,
            "target": TARGET,
            "started_at": (start + timedelta(days=night)).isoformat(),
        }
        bundle = {"run": run, "loadtest": load}
        answers[run["run_id"]] = record_run(store, bundle, "pass", "thresholds met", fail_on_regression=True)
    return dsn, answers


def test_a_run_the_gate_failed_is_stored_failing_and_is_never_the_baseline(published):
    dsn, answers = published
    store = ResultsStore(dsn)
    stored = store.history(TARGET, PROFILE, limit=NIGHTS).set_index("run_id")
    assert stored.loc["night09", "verdict"] == "fail" and stored.loc["night09", "regression"] == "regression"
    assert answers["night09"]["reason"].startswith("regression against the baseline: ")
    assert stored.loc["night05", "verdict"] == "pass"
    # 6 earlier runs are too few to know the noise (noise.runs_needed: 17): the within-run comparison decides
    assert stored.loc["night06", "regression"] == "regression"
    assert "within-run comparison with the baseline" in answers["night06"]["regression"]["gate"]["reason"]
    # every slow night is compared with the last fast one, never with a slow night before it
    assert {answers[f"night{n:02d}"]["baseline"]["run_id"] for n in range(SLOW_FROM + 1, NIGHTS)} == {"night05"}
    assert store.baseline(TARGET, PROFILE)["run_id"] == "night05"


def test_regression_run_picks_an_earlier_baseline_and_reproduces_the_published_section(published, tmp_path, capsys):
    dsn, answers = published
    out = tmp_path / "section.json"
    args = ["regression", "--target", TARGET, "--profile", PROFILE, "--results-db", dsn, "--out", str(out)]
    code = main([*args, "--run", DAG, "night08"])  # night09, later, is in the store
    assert f"run {DAG}/night08; baseline {DAG}/night05" in capsys.readouterr().out
    assert code == 1
    assert json.loads(out.read_text()) == json.loads(json.dumps(answers["night08"]["regression"], allow_nan=False))
