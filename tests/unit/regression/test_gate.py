import pytest

from include.perfpipe.regression import gate_decision, release_verdict
from include.perfpipe.regression.gate import gated_verdict

PLANNED = ["smoke", "load", "stress"]


def test_every_profile_passing_passes():
    result = release_verdict([("smoke", "pass"), ("load", "pass"), ("stress", "pass")], PLANNED)
    assert result == {
        "verdict": "pass",
        "reason": "every planned profile passed: smoke, load, stress",
        "ran": PLANNED,
        "skipped": [],
    }


def test_gate_stops_at_the_first_failed_profile():
    result = release_verdict([("smoke", "pass"), ("load", "fail", "api p95 812 ms > 500 ms")], PLANNED)
    assert result["verdict"] == "fail"
    assert result["ran"] == ["smoke", "load"] and result["skipped"] == ["stress"]
    assert result["reason"] == "load gave fail: api p95 812 ms > 500 ms"


@pytest.mark.parametrize("verdict", ["invalid", "error", "fail"])
def test_first_profile_not_passing_skips_the_rest_with_its_verdict(verdict):
    result = release_verdict([("smoke", verdict)], PLANNED)
    assert result["verdict"] == verdict and result["ran"] == ["smoke"] and result["skipped"] == ["load", "stress"]
    assert result["reason"].startswith(f"smoke gave {verdict}")


def test_a_profile_without_verdict_after_passes_is_an_error():
    result = release_verdict([("smoke", "pass")], PLANNED)
    assert result["verdict"] == "error" and "load has no verdict" in result["reason"]
    assert result["ran"] == ["smoke"] and result["skipped"] == ["load", "stress"]


@pytest.mark.parametrize(
    ("results", "planned", "message"),
    [
        ([("load", "pass")], PLANNED, "planned order"),
        ([("smoke", "fail"), ("load", "pass")], PLANNED, "continue after 'smoke'"),
        ([("smoke", "pass"), ("load", "maybe")], PLANNED, r"results\[1\] verdict"),
        ([("soak", "pass")], PLANNED, r"results\[0\] profile 'soak'"),
        ([("smoke",)], PLANNED, r"results\[0\] must be"),
        ([], [], "at least one profile"),
        ([], ["smoke", "smoke"], "twice"),
    ],
)
def test_bad_results_are_named(results, planned, message):
    with pytest.raises(ValueError, match=message):
        release_verdict(results, planned)


def test_a_significant_regression_fails_the_nightly(regressed_comparison):
    decision = gate_decision(regressed_comparison)
    assert decision["regressed"] is True
    assert "api p95_ms +" in decision["reason"] and "significant regression" in decision["reason"]


def test_no_regression_passes_the_nightly(baseline_frames):
    from include.perfpipe.regression import compare_runs

    decision = gate_decision(compare_runs(baseline_frames, baseline_frames))
    assert decision == {
        "regressed": False,
        "status": "unchanged",
        "reason": "no significant regression (15 tested metrics)",
    }


def test_the_gate_fails_a_passing_run_only_where_regressions_fail_it(regressed_comparison):
    gate = gate_decision(regressed_comparison)
    verdict, reason = gated_verdict("pass", "thresholds met", gate, fail_on_regression=True)
    assert verdict == "fail" and reason == f"regression against the baseline: {gate['reason']}"
    assert gated_verdict("pass", "thresholds met", gate, fail_on_regression=False) == ("pass", "thresholds met")
    assert gated_verdict("error", "target down", gate, fail_on_regression=True) == ("error", "target down")


def test_improvements_do_not_fail_the_nightly(regressed_comparison):
    flipped = regressed_comparison.replace({"direction": {"regression": "improvement"}})
    assert gate_decision(flipped)["regressed"] is False


def test_gate_decision_rejects_frames_that_are_not_comparisons(regressed_comparison):
    with pytest.raises(ValueError, match=r"lacks columns \['direction'\]"):
        gate_decision(regressed_comparison.drop(columns=["direction"]))
    with pytest.raises(ValueError, match="unknown values"):
        gate_decision(regressed_comparison.assign(direction="worse"))
