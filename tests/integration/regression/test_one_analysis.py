"""The DAG's publish task and the ``regression`` CLI compute the same regression section for the same stored run."""

import json
from datetime import UTC, datetime

import pytest

from include.perfpipe.cli import main
from include.perfpipe.regression.analysis import section_for
from include.perfpipe.regression.baseline import find_baseline, shape_of
from include.perfpipe.store.results_store import ResultsStore
from tests.integration.regression.conftest import DAG, PROFILE, RUNS, TARGET, nightly_result

pytestmark = pytest.mark.integration


def test_publish_task_and_cli_give_the_same_section(store_dsn, tmp_path, capsys):
    store = ResultsStore(store_dsn)
    store.mark_baseline(DAG, "night02")
    run = {
        "dag_id": "perf_regression_latest",  # its own DAG, so the package's nightly runs stay the latest of theirs
        "run_id": "tonight",
        "profile": PROFILE,
        "target": TARGET,
        "version": "1.2.3",
        "started_at": datetime(2026, 11, 30, 1, 0, tzinfo=UTC).isoformat(),
    }
    bundle = {"run": run, "loadtest": nightly_result(RUNS)}
    bundle.update(find_baseline(store, run, shape_of(bundle["loadtest"])))  # as publish_run does
    published = section_for(store, bundle, "pass")
    store.save_bundle(bundle, "pass", "thresholds met", shape=shape_of(bundle["loadtest"]))
    try:
        out = tmp_path / "section.json"
        code = main(
            ["regression", "--target", TARGET, "--profile", PROFILE, "--results-db", store_dsn, "--out", str(out)]
        )
        assert f"run perf_regression_latest/tonight; baseline {DAG}/night02" in capsys.readouterr().out
        assert code == 1 and published["gate"]["regressed"] is True
        assert json.loads(out.read_text()) == json.loads(json.dumps(published, allow_nan=False))
        assert [p["run_id"] for p in published["trend"]][-3:] == ["night10", "night11", "tonight"]
    finally:
        with store._connect() as conn:
            for table in ("runs", "stage_writes", "endpoint_stats", "timeseries"):
                conn.execute(f"DELETE FROM perfpipe.{table} WHERE run_id = 'tonight'")
