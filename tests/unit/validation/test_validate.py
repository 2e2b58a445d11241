"""validate() end to end with GX: one GX validation per module fixture, shared by the assertions."""

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.validation import ValidationResult, Verdict, load_thresholds, validate
from tests.unit.validation.synthetic import HEALTHY, STAGES, flat, record_run

SUITES = """
    classes: [api, tool, db]
    suites:
      loose: {windows: [whole], thresholds: {api: {p95_ms: "< 1s"}}}
      tight: {windows: [whole], thresholds: {api: {p95_ms: "< 100ms"}}}
      each_second: {windows: [second], thresholds: {api: {p99_ms: "< 1s"}, all: {error_rate: "< 50%"}}}
      latency:
        windows: [whole, steady, rolling]
        thresholds:
          api: {p95_ms: "< 300ms"}
          tool: {p95_ms: "< 2s"}
          db: {p95_ms: {limit: "< 100ms", per_endpoint: true, windows: [whole]}}
"""


def ramp_and_spike(class_name, t, i):
    """api: slow only during ramp-up (0-30 s). tool: a 30 s spike (60-90 s) where 15 % of calls take 3 s,
    so the spike is 3.75 % of the run's tool calls: under the whole-run p95, over any 30 s window's."""
    if class_name == "api":
        return 0.4 if t < 30 else 0.02
    return 3.0 if 60 <= t < 90 and i % 20 < 3 else 0.1


def db_queries() -> pd.DataFrame:
    """Two queries of class db: one fast, one slow at 150 ms (a small share of all db calls)."""
    recorder = MetricsRecorder()
    for t in range(60):
        for _i in range(24):
            recorder.record("fast_query", "db", 0.01, True, "ok", t + 0.5)
        recorder.record("slow_query", "db", 0.15, True, "ok", t + 0.5)
    return recorder.stats_frame(60)


def run_validate(recorder, run_dir, thresholds=None, **kwargs):
    kwargs.setdefault("health", HEALTHY)
    return validate(
        recorder.stats_frame(120),
        recorder.timeseries_frame(),
        thresholds=thresholds or load_thresholds(profile="smoke"),
        stages=STAGES,
        run_dir=run_dir,
        recorder=recorder,
        **kwargs,
    )


def check(result, suite, window, class_name="api"):
    rows = result.results[
        (result.results["suite"] == suite)
        & (result.results["window"] == window)
        & (result.results["class_name"] == class_name)
    ]
    assert len(rows) == 1, (suite, window, class_name)
    return rows.iloc[0]


@pytest.fixture(scope="module")
def breached_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("breached") / "run"


@pytest.fixture(scope="module")
def breached(breached_dir):
    root = breached_dir.parent
    (root / "thresholds.yaml").write_text(textwrap.dedent(SUITES))
    recorder = record_run(ramp_and_spike, classes=("api", "tool"))
    return run_validate(recorder, breached_dir, load_thresholds(root / "thresholds.yaml"), db_stats=db_queries())


@pytest.fixture(scope="module")
def clean_recorder():
    return record_run(flat(0.02), classes=("api", "health"))


@pytest.fixture(scope="module")
def passed(tmp_path_factory, clean_recorder):
    return run_validate(clean_recorder, tmp_path_factory.mktemp("passed"))


def test_same_frame_passes_a_suite_and_fails_a_tighter_one(breached):
    loose, tight = check(breached, "loose", "whole"), check(breached, "tight", "whole")
    assert loose.success and not tight.success
    assert loose.observed == tight.observed > 100


def test_steady_state_excludes_a_slow_ramp_up(breached):
    whole, steady = check(breached, "latency", "whole"), check(breached, "latency", "steady")
    assert not whole.success and whole.observed > 300
    assert steady.success and steady.observed < 30


def test_rolling_window_catches_a_spike_the_whole_run_hides(breached):
    whole, rolling = check(breached, "latency", "whole", "tool"), check(breached, "latency", "rolling_30s", "tool")
    assert whole.success and whole.observed < 2000
    assert not rolling.success and rolling.observed > 2000


def test_per_second_checks_hold_for_every_second(breached):
    p99, errors = check(breached, "each_second", "second"), check(breached, "each_second", "second", "all")
    assert p99.success and 400 < p99.observed < 1000  # the slowest second is in the slow ramp-up
    assert errors.success and errors.observed == 0.0


def test_per_query_limits_catch_one_slow_query(breached):
    db = check(breached, "latency", "whole", "db")
    assert not db.success and db.observed > 100


def test_a_breach_fails_the_run_with_a_reason(breached):
    assert breached.verdict == Verdict.FAIL and breached.exit_code == 1
    breaches = int((~breached.results["success"]).sum())
    assert breached.reason.startswith(f"{breaches} of {len(breached.results)} checks breached: ")
    assert "tight api p95_ms over whole: " in breached.reason and "(limit < 100)" in breached.reason


def test_results_have_the_contract_columns_and_gx_data_docs(breached, breached_dir):
    assert list(breached.results.columns) == [
        "suite",
        "window",
        "metric",
        "class_name",
        "operator",
        "threshold",
        "observed",
        "success",
    ]
    assert not Path(breached.data_docs).is_absolute()  # relative to the run folder: it travels with it
    docs = breached_dir / breached.data_docs
    assert docs.name == "index.html" and docs.is_file() and "gx" in docs.parts
    pages = list(docs.parent.rglob("*.html"))
    assert len(pages) > 1  # the index links validation result pages
    suites = sorted(p.name for p in (docs.parents[3] / "validation_definitions").glob("*.json"))
    assert suites == [
        "each_second.second.json",
        "latency.rolling_30s.json",
        "latency.steady.json",
        "latency.whole.json",
        "loose.whole.json",
        "tight.whole.json",
    ]


def test_the_result_is_saved_and_round_trips(breached, breached_dir):
    saved = json.loads((breached_dir / "validation.json").read_text())
    assert saved == json.loads(json.dumps(breached.to_dict(), allow_nan=False))
    again = ValidationResult.from_dict(saved)
    assert again.verdict == breached.verdict and again.reason == breached.reason
    pd.testing.assert_frame_equal(again.results, breached.results, check_dtype=False)


def test_a_clean_run_passes(passed):
    assert passed.verdict == Verdict.PASS and passed.exit_code == 0
    assert passed.results["success"].all() and len(passed.results) == 14
    assert passed.data_docs == "gx/uncommitted/data_docs/local_site/index.html"
    assert any("capacity" in note for note in passed.notes)  # a smoke run is not held to 1000 req/s


def test_revalidating_a_run_replaces_its_results(tmp_path, clean_recorder):
    first = run_validate(clean_recorder, tmp_path)
    second = run_validate(clean_recorder, tmp_path)
    assert first.data_docs == second.data_docs
    stored = list((tmp_path / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert len(stored) == len(set(second.results["suite"] + second.results["window"]))


def test_saturated_generator_makes_the_run_invalid(tmp_path, clean_recorder):
    health = HEALTHY | {"saturated": True, "reasons": ["event-loop lag p99 80 ms > 50 ms"]}
    result = run_validate(clean_recorder, tmp_path, health=health)
    assert result.verdict == Verdict.INVALID and result.exit_code == 2
    assert "event-loop lag" in result.reason and len(result.results)  # the numbers are kept


def test_dropped_sends_make_the_run_invalid_even_if_thresholds_fail(tmp_path):
    recorder = record_run(flat(0.9), classes=("api",))
    recorder.record_dropped("api_endpoint", "api", 50.0)
    result = run_validate(recorder, tmp_path, health=HEALTHY)
    assert not result.results["success"].all()
    assert result.verdict == Verdict.INVALID and "1 sends dropped" in result.reason


def test_an_aborted_run_fails_even_when_its_numbers_pass(tmp_path, clean_recorder):
    result = run_validate(clean_recorder, tmp_path, aborted=True, abort_reason="abort_on_fail: error_rate")
    assert result.results["success"].all()
    assert result.verdict == Verdict.FAIL and "aborted: abort_on_fail: error_rate" in result.reason


def test_an_unreachable_target_is_an_error(tmp_path):
    recorder = record_run(flat(0.001), classes=("api",), ok=lambda t, i: False, status=lambda t, i, ok: "ConnectError")
    result = run_validate(recorder, tmp_path)
    assert result.verdict == Verdict.ERROR and result.exit_code == 3
    assert "ConnectError x2400" in result.reason


def test_all_http_failures_are_a_fail_not_an_error(tmp_path):
    recorder = record_run(flat(0.001), classes=("api",), ok=lambda t, i: False)
    result = run_validate(recorder, tmp_path)
    assert result.verdict == Verdict.FAIL and "error_rate" in result.reason


def test_an_explicit_error_without_data_is_an_error(tmp_path):
    empty = MetricsRecorder()
    result = validate(
        empty.stats_frame(0),
        empty.timeseries_frame(),
        thresholds=load_thresholds(),
        stages=[],
        health={},
        run_dir=tmp_path,
        error="target http://127.0.0.1:9 refused the connection",
    )
    assert result.verdict == Verdict.ERROR and "refused" in result.reason
    assert result.data_docs is None and (tmp_path / "validation.json").is_file()


def test_no_requests_is_an_error(tmp_path):
    empty = MetricsRecorder()
    result = validate(
        empty.stats_frame(0),
        empty.timeseries_frame(),
        thresholds=load_thresholds().to_dict(),
        stages=STAGES,
        health=HEALTHY,
        run_dir=tmp_path,
    )
    assert result.verdict == Verdict.ERROR and "no requests" in result.reason


@pytest.mark.parametrize(
    "health, message",
    [
        ({"saturated": "yes"}, "health.saturated: expected true or false, got 'yes'"),
        ({"dropped": -1}, "health.dropped: expected a count >= 0, got -1"),
        ("ok", "health: expected a dict"),
    ],
)
def test_bad_health_is_named(tmp_path, health, message):
    empty = MetricsRecorder()
    with pytest.raises(ValueError) as info:
        validate(
            empty.stats_frame(0),
            empty.timeseries_frame(),
            thresholds=load_thresholds(),
            stages=[],
            health=health,
            run_dir=tmp_path,
        )
    assert str(info.value).startswith(message)


CAPACITY = """
    classes: [api]
    suites:
      capacity: {windows: [whole], thresholds: {all: {rps: ">= 100000"}}}
      latency: {windows: [whole], thresholds: {api: {p95_ms: "%s"}}}
"""


@pytest.mark.parametrize(
    "cpu_bound, p95_limit, verdict",
    [
        (True, "< 1s", Verdict.INVALID),  # only the capacity check failed, measured by a CPU-bound generator
        (True, "< 1ms", Verdict.FAIL),  # the latency breach is real whatever the CPU
        (False, "< 1s", Verdict.FAIL),  # a generator with CPU to spare measured the target's capacity
    ],
)
def test_a_failed_capacity_check_is_invalid_only_while_cpu_bound(
    tmp_path, clean_recorder, cpu_bound, p95_limit, verdict
):
    (tmp_path / "thresholds.yaml").write_text(textwrap.dedent(CAPACITY % p95_limit))
    health = HEALTHY | {"cpu_bound": cpu_bound}
    result = run_validate(
        clean_recorder, tmp_path / "run", load_thresholds(tmp_path / "thresholds.yaml"), health=health
    )
    assert result.verdict == verdict
    assert ("capacity check(s) failed while the generator was CPU-bound" in result.reason) == (verdict == "invalid")
    assert any("not judged: capacity all rps" in n for n in result.notes) == cpu_bound
    assert ("rps" in result.reason) == (not cpu_bound)
