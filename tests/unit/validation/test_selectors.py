"""Thresholds that select by scenario, group, step, class or tag fail the run when breached."""

import textwrap

import pytest

from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.validation import Verdict, load_thresholds, validate
from include.perfpipe.validation.selectors import parse_selector
from include.perfpipe.validation.threshold_models import ThresholdConfigError

STAGES = [{"start_s": 0.0, "end_s": 10.0, "kind": "hold"}]
HEALTHY = {"loop_lag_p99_ms": 1.0, "cpu_percent": 20.0, "dropped": 0, "saturated": False, "reasons": []}


def _run() -> MetricsRecorder:
    browse, checkout = MetricsRecorder("browse"), MetricsRecorder("checkout", {"team": "payments"})
    checkout.label("pay", "pay", {"team": "payments", "money": "yes"})
    for i in range(500):
        browse.record("list", "api", 0.005, True, 200, i / 50)
        checkout.record("pay", "api", 0.120, True, 200, i / 50)  # 120 ms: slow
        checkout.record_checks("pay", "api", 1 if i % 10 else 0, 0 if i % 10 else 1)  # 90 % pass
    return MetricsRecorder.merge([browse, checkout])


def _thresholds(tmp_path, body: str):
    path = tmp_path / "thresholds.yaml"
    path.write_text(textwrap.dedent(body))
    return load_thresholds(path)


@pytest.fixture(scope="module")
def breached(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("selectors")
    thresholds = _thresholds(
        tmp_path,
        """
        version: 1
        classes: [api]
        suites:
          scenarios:
            thresholds:
              "{scenario: checkout, group: pay}": {p95_ms: "< 100ms"}
              "money=yes": {check_pass_rate: ">= 99%"}
              "{scenario: browse}": {p95_ms: "< 100ms"}
        """,
    )
    recorder = _run()
    return validate(
        recorder.stats_frame(10.0),
        recorder.timeseries_frame(),
        thresholds=thresholds,
        stages=STAGES,
        health=HEALTHY,
        run_dir=tmp_path / "run",
        recorder=recorder,
    )


def test_a_breached_tag_or_group_threshold_fails_the_run(breached):
    assert breached.verdict == Verdict.FAIL
    rows = breached.results.set_index(["class_name", "metric"])
    assert not rows.loc[("group=pay,scenario=checkout", "p95_ms"), "success"]
    assert rows.loc[("group=pay,scenario=checkout", "p95_ms"), "observed"] == pytest.approx(120, rel=0.01)
    assert not rows.loc[("money=yes", "check_pass_rate"), "success"]
    assert rows.loc[("money=yes", "check_pass_rate"), "observed"] == pytest.approx(0.9)
    assert rows.loc[("scenario=browse", "p95_ms"), "success"]
    assert breached.data_docs  # the checks are in the GX Data Docs


def test_selector_spellings_and_errors(tmp_path):
    assert (
        parse_selector("{scenario: a, group: b}")
        == parse_selector("group=b, scenario=a")
        == {"scenario": "a", "group": "b"}
    )
    assert parse_selector("api") is None
    with pytest.raises(ThresholdConfigError, match="key=value"):
        _thresholds(tmp_path, 'version: 1\nclasses: [api]\nsuites: {s: {thresholds: {"a=1,b": {p95_ms: 1}}}}\n')
