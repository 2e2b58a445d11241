import json
from datetime import UTC

import numpy as np
import pandas as pd
import pytest

from include.perfpipe.regression import compare_runs, regression_section
from tests.unit.regression.synthetic import synthetic_frames

RUNS = 24
STEP_AT = 15


def _history(long: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    p95 = np.r_[rng.normal(100, 4, STEP_AT), rng.normal(125, 4, RUNS - STEP_AT)]
    wide = pd.DataFrame(
        {
            "dag_id": "perf_regression_nightly",
            "run_id": [f"run{i}" for i in range(RUNS)],
            "started_at": pd.date_range("2026-11-01", periods=RUNS, freq="D", tz="UTC"),
            "verdict": ["pass"] * (RUNS - 1) + ["fail"],
            "is_baseline": [i == 3 for i in range(RUNS)],
            "p50_ms": rng.normal(40, 1, RUNS),
            "p95_ms": p95,
            "p99_ms": np.nan,
            "rps": rng.normal(200, 4, RUNS),
            "error_rate": 0.0,
        }
    )
    if not long:
        return wide
    health = wide.assign(class_name="health", p95_ms=rng.normal(3, 0.1, RUNS))
    return pd.concat([wide.assign(class_name="all"), health]).sort_values("started_at", kind="stable")


def test_section_holds_comparison_gate_trend_and_change_points(regressed_comparison):
    section = regression_section(regressed_comparison, _history())
    json.dumps(section, allow_nan=False)
    assert section["baseline_found"] is True
    assert section["gate"]["regressed"] is True
    assert len(section["comparison"]) == len(regressed_comparison)
    assert section["counts"]["regression"] == int((regressed_comparison["direction"] == "regression").sum())
    assert [p["run_id"] for p in section["trend"]] == [f"run{i}" for i in range(RUNS)]
    last = section["trend"][-1]
    assert last["verdict"] == "fail" and last["started_at"] == "2026-11-24T00:00:00+00:00"
    assert set(last) == {
        "dag_id",
        "run_id",
        "started_at",
        "verdict",
        "is_baseline",
        "regression",
        "p50_ms",
        "p95_ms",
        "rps",
        "error_rate",
    }
    assert last["regression"] == section["gate"]["status"] == "regression"
    [point] = [c for c in section["change_points"] if c["metric"] == "p95_ms"]
    assert abs(point["index"] - STEP_AT) <= 1 and point["run_id"] == f"run{point['index']}"
    assert point["direction"] == "regression" and 15 < point["change_pct"] < 35
    assert [c for c in section["change_points"] if c["metric"] != "p95_ms"] == []


def test_long_history_gives_a_series_per_class():
    section = regression_section(None, _history(long=True))
    assert len(section["trend"]) == RUNS
    assert set(section["trend"][0]["p95_ms"]) == {"all", "health"}
    assert {(c["metric"], c["class_name"]) for c in section["change_points"]} == {("p95_ms", "all")}


def test_without_baseline_the_history_still_judges_and_comparison_is_empty():
    section = regression_section(None, _history())
    assert section["baseline_found"] is False and section["comparison"] == []
    assert section["gate"]["regressed"] is True  # marked at run 3, p95 +25 % from run 15: 4 sigmas for 9 runs
    assert (
        section["gate"]["reason"].startswith("regression: total p95_ms +2")
        and "since run15 (9 runs)" in (section["gate"]["reason"])
    )
    short = regression_section(None, _history().head(5))
    assert short["gate"] == {"regressed": False, "status": "unknown", "reason": "no baseline to compare with"}


def test_infinite_and_missing_numbers_become_null(baseline_frames):
    failing = synthetic_frames(seed=5, error_rate=0.05)
    section = regression_section(compare_runs(baseline_frames, failing), _history().head(3))
    text = json.dumps(section, allow_nan=False)
    [row] = [r for r in section["comparison"] if r["scope"] == "total" and r["metric"] == "error_rate"]
    assert row["change_pct"] is None and row["direction"] == "regression"
    assert '"p_value": null' in text  # endpoint rows carry no test
    assert section["change_points"] == []  # 3 runs are too few


def test_missing_runs_in_a_series_are_skipped_not_counted():
    history = _history()
    history.loc[[2, 20], "p95_ms"] = np.nan
    section = regression_section(None, history)
    assert section["trend"][2]["p95_ms"]["all"] is None
    [point] = section["change_points"]
    assert abs(point["index"] - STEP_AT) <= 1


@pytest.mark.parametrize(
    ("history", "kwargs", "message"),
    [
        (_history().drop(columns=["run_id"]), {}, r"history lacks columns \['run_id'\]"),
        (_history(), {"metric_columns": ["p42_ms"]}, "metric_columns has unknown metrics"),
    ],
)
def test_bad_history_is_named(history, kwargs, message):
    with pytest.raises(ValueError, match=message):
        regression_section(None, history, **kwargs)


def test_errors_appearing_in_the_history_are_a_regression_change_point():
    history = _history()
    history["error_rate"] = np.r_[np.zeros(12), np.random.default_rng(3).uniform(0.04, 0.06, RUNS - 12)]
    [point] = [c for c in regression_section(None, history)["change_points"] if c["metric"] == "error_rate"]
    assert point["index"] == 12 and point["before"] == 0.0
    assert point["change_pct"] is None and point["direction"] == "regression"


def test_history_records_with_mixed_timestamps_as_the_publisher_builds_them():
    from datetime import datetime

    records = _history().head(8).astype(object).to_dict("records")
    for record in records[:-1]:
        record["started_at"] = record["started_at"].to_pydatetime()  # as psycopg returns them
    records[-1]["started_at"] = datetime(2026, 11, 8, 1, tzinfo=UTC).isoformat()  # the current run
    section = regression_section(None, pd.DataFrame(records))
    json.dumps(section, allow_nan=False)
    assert section["trend"][0]["started_at"] == "2026-11-01T00:00:00+00:00"
    assert section["trend"][-1]["started_at"] == "2026-11-08T01:00:00+00:00"
