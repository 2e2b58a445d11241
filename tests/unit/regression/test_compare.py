import math
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from include.perfpipe.regression import compare, compare_runs
from include.perfpipe.regression.compare import (
    COMPARISON_COLUMNS,
    MAX_CORRELATION,
    METRICS,
    Windows,
    _arma_inflation,
    _mann_whitney_serial,
    _rank_autocorrelations,
    _segments,
    _side_inflation,
)
from tests.unit.regression.synthetic import LOAD_STAGES, ar1, ar1_variance_inflation, synthetic_frames, synthetic_run

NOISY_NEIGHBOUR = {"drift_rho": 0.8, "drift_sd": 0.1}  # latencies times exp(AR(1)): about +-10 % drifting over seconds


def _row(comparison: pd.DataFrame, name: str, metric: str, scope: str = "class") -> pd.Series:
    rows = comparison[(comparison["scope"] == scope) & (comparison["name"] == name) & (comparison["metric"] == metric)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_rows_cover_total_classes_and_endpoints(regressed_comparison):
    assert list(regressed_comparison.columns) == COMPARISON_COLUMNS
    keys = set(zip(regressed_comparison["scope"], regressed_comparison["name"], strict=False))
    assert keys == {
        ("total", "all"),
        ("class", "api"),
        ("class", "health"),
        ("endpoint", "list_items"),
        ("endpoint", "get_item"),
        ("endpoint", "health"),
    }
    assert (regressed_comparison.groupby(["scope", "name"])["metric"].apply(list) == [list(METRICS)] * 6).all()


def test_twenty_percent_p95_shift_over_seconds_is_a_significant_regression(regressed_comparison):
    row = _row(regressed_comparison, "api", "p95_ms")
    assert row["test"] == "mannwhitneyu_arma" and row["n_baseline"] == 40 and row["n_current"] == 40
    assert 12 < row["change_pct"] < 28
    assert row["p_value"] < 1e-6
    assert bool(row["significant"]) and row["direction"] == "regression"
    assert _row(regressed_comparison, "all", "p95_ms", scope="total")["direction"] == "regression"


def test_untouched_class_and_throughput_are_unchanged(regressed_comparison):
    for metric in METRICS:
        assert _row(regressed_comparison, "health", metric)["direction"] == "unchanged", metric
    assert _row(regressed_comparison, "api", "rps")["direction"] == "unchanged"


@pytest.mark.parametrize("seeds", [(10, 11), (12, 13), (14, 15), (16, 17)])
def test_two_runs_from_the_same_distribution_are_not_a_regression(seeds):
    comparison = compare_runs(synthetic_frames(seeds[0]), synthetic_frames(seeds[1]))
    tested = comparison[comparison["test"] == "mannwhitneyu_arma"]
    assert len(tested) == 15
    assert not tested["significant"].any(), tested[tested["significant"]]
    assert set(comparison["direction"]) == {"unchanged"}


def test_faster_run_is_an_improvement(baseline_frames):
    faster = synthetic_frames(seed=3, scale={"list_items": 0.8, "get_item": 0.8})
    row = _row(compare_runs(baseline_frames, faster), "api", "p95_ms")
    assert row["direction"] == "improvement" and row["change_pct"] < -12


def test_lower_throughput_is_a_regression(baseline_frames):
    slower = synthetic_frames(seed=4, rate_scale=0.7)
    row = _row(compare_runs(baseline_frames, slower), "all", "rps", scope="total")
    assert row["direction"] == "regression"
    assert -36 < row["change_pct"] < -24


def test_errors_appearing_are_a_regression_with_infinite_change(baseline_frames):
    failing = synthetic_frames(seed=5, error_rate=0.05)
    row = _row(compare_runs(baseline_frames, failing), "all", "error_rate", scope="total")
    assert row["baseline"] == 0 and 0.03 < row["current"] < 0.07
    assert math.isinf(row["change_pct"]) and row["direction"] == "regression"


def test_endpoint_rows_come_from_the_stats_frame_untested(regressed_comparison, baseline_frames, slower_api_frames):
    row = _row(regressed_comparison, "list_items", "p95_ms", scope="endpoint")
    stats = baseline_frames["stats"].set_index("name")
    assert row["baseline"] == stats.loc["list_items", "p95_ms"]
    assert row["current"] == slower_api_frames["stats"].set_index("name").loc["list_items", "p95_ms"]
    assert row["test"] == "none" and math.isnan(row["p_value"])
    assert not row["significant"] and row["direction"] == "unchanged"


def test_only_hold_seconds_are_compared():
    stages = [{"start_s": 0, "end_s": 10, "kind": "ramp"}, {"start_s": 10, "end_s": 40, "kind": "hold"}]
    base = synthetic_frames(seed=6, stages=stages)
    cur = synthetic_frames(seed=7, stages=stages)
    ramp = cur["timeseries"]["t"] < 10
    for column in ("p50_ms", "p95_ms", "p99_ms"):
        cur["timeseries"].loc[ramp, column] *= 5  # a slow warm-up outside the steady state
    steady = _row(compare_runs(base, cur), "all", "p95_ms", scope="total")
    assert steady["direction"] == "unchanged" and steady["n_current"] == 30
    whole = _row(compare_runs({**base, "stages": []}, {**cur, "stages": []}), "all", "p95_ms", scope="total")
    assert whole["n_current"] == 40 and whole["current"] > steady["current"]


def test_load_result_dicts_give_the_same_rows_as_frames():
    from_results = compare_runs(synthetic_run(8), synthetic_run(9))
    from_frames = compare_runs(synthetic_frames(8), synthetic_frames(9))
    pd.testing.assert_frame_equal(from_results, from_frames)


def test_a_class_missing_from_one_run_is_reported_untested(baseline_frames):
    no_health = {**baseline_frames, "timeseries": baseline_frames["timeseries"].query("class_name != 'health'")}
    row = _row(compare_runs(baseline_frames, no_health), "health", "p95_ms")
    assert math.isnan(row["current"]) and row["test"] == "none" and row["direction"] == "unchanged"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timeseries": None}, "'stats' and 'timeseries'"),
        ({"stages": [{"start_s": 0, "end_s": 40, "kind": "flat"}]}, r"current.stages\[0\].kind"),
        ({"stages": [{"start_s": 100, "end_s": 140, "kind": "hold"}]}, "no whole second"),
        ({"stages": "hold"}, "current.stages must be a list"),
    ],
)
def test_bad_input_names_the_field(baseline_frames, change, message):
    current = {k: v for k, v in {**baseline_frames, **change}.items() if v is not None}
    with pytest.raises(ValueError, match=message):
        compare_runs(baseline_frames, current)


def test_missing_columns_are_named(baseline_frames):
    current = {**baseline_frames, "timeseries": baseline_frames["timeseries"].drop(columns=["p95_ms"])}
    with pytest.raises(ValueError, match=r"current.timeseries lacks columns \['p95_ms'\]"):
        compare_runs(baseline_frames, current)


def test_bad_load_result_duration_is_named():
    run = synthetic_run(1, seconds=5)
    with pytest.raises(ValueError, match="baseline.duration_s"):
        compare_runs({**run, "duration_s": 0}, run)


@pytest.mark.parametrize(("kwargs", "field"), [({"alpha": 1.5}, "alpha"), ({"min_change_pct": -1}, "min_change_pct")])
def test_bad_thresholds_are_named(baseline_frames, kwargs, field):
    with pytest.raises(ValueError, match=field):
        compare_runs(baseline_frames, baseline_frames, **kwargs)


def test_holm_adjustment_matches_a_worked_example():
    from include.perfpipe.regression.compare import _holm

    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> kept monotone at 0.06
    assert _holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert _holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_a_tiny_latency_shift_is_noise_below_the_millisecond_floor():
    base = synthetic_frames(20)
    slower_health = synthetic_frames(21, scale={"health": 1.2})  # a 2 ms endpoint, 20 % slower: < 1 ms
    assert _row(compare_runs(base, slower_health), "health", "p95_ms")["direction"] == "unchanged"
    row = _row(compare_runs(base, slower_health, min_change_ms=0.0), "health", "p95_ms")
    assert row["direction"] == "regression" and row["current"] - row["baseline"] < 1.0


def test_bad_min_change_ms_is_named():
    with pytest.raises(ValueError, match="min_change_ms"):
        compare_runs(synthetic_frames(20), synthetic_frames(21), min_change_ms=-1)


def _windows(values, segment=None) -> Windows:
    values = np.asarray(values, float)
    segment = np.zeros(len(values), int) if segment is None else np.asarray(segment)
    return Windows(values, segment, float(np.median(values)))


def _plain_p(base, cur) -> float:
    return float(mannwhitneyu(base, cur, alternative="two-sided", method="asymptotic").pvalue)


def test_independent_windows_give_the_plain_asymptotic_u_p_value():
    exact = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        base, cur = rng.normal(0, 1, 2000).round(1), rng.normal(0.08, 1, 2000).round(1)  # rounded: many ties
        f = max(_side_inflation(_windows(base)), _side_inflation(_windows(cur)))
        adjusted, plain = _mann_whitney_serial(_windows(base), _windows(cur))[0], _plain_p(base, cur)
        assert f < 1.15 and plain <= adjusted <= 1.4 * plain, (seed, f, plain, adjusted)
        if f == 1:  # no correlation estimated: exactly scipy's tie- and continuity-corrected p
            exact += 1
            assert adjusted == pytest.approx(plain, rel=1e-12)
    assert exact >= 3


def test_autocorrelated_windows_from_one_process_are_not_significant():
    checked = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        base, cur = ar1(rng, 40, 0.8, 1.0), ar1(rng, 40, 0.8, 1.0)  # same process, neighbouring seconds alike
        plain = _plain_p(base, cur)
        if plain < 0.01:  # the plain U test calls it a difference
            checked += 1
            adjusted = _mann_whitney_serial(_windows(base), _windows(cur))[0]
            assert adjusted > 0.05 and adjusted > 10 * plain, (seed, plain, adjusted)
    assert checked >= 5


def test_negative_autocorrelation_never_makes_the_test_more_confident():
    for seed in range(5):
        rng = np.random.default_rng(seed)
        base, cur = ar1(rng, 60, -0.6, 1.0), ar1(rng, 60, -0.6, 1.0) + 0.4
        assert _rank_autocorrelations(_windows(base))[0][0] < 0 and _side_inflation(_windows(base)) == 1.0
        assert _mann_whitney_serial(_windows(base), _windows(cur))[0] == pytest.approx(_plain_p(base, cur), rel=1e-12)


def test_a_level_step_between_two_holds_is_not_serial_correlation():
    every_second = np.r_[np.arange(10, 70), np.arange(100, 220)]  # two holds, the ramp between them cut out
    segment = _segments(every_second, every_second)
    assert (segment == np.r_[np.zeros(60), np.ones(120)]).all()
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(10, 1, 60), rng.normal(20, 1, 120)]  # twice the users: another level
    assert _rank_autocorrelations(_windows(values, segment))[0][0] < 0.1
    assert _rank_autocorrelations(_windows(values))[0][0] > 0.5  # read as one segment, the step looks like correlation


def test_a_noisy_neighbour_is_not_a_regression_though_the_plain_u_test_calls_it_one():
    base, cur = synthetic_frames(42, **NOISY_NEIGHBOUR), synthetic_frames(43, **NOISY_NEIGHBOUR)  # one process
    corrected = compare_runs(base, cur, min_change_pct=0)
    assert not corrected["significant"].any(), corrected[corrected["significant"]]
    row = _row(corrected, "api", "p95_ms")
    assert row["change_pct"] > 10 and row["p_value"] > 0.05
    with mock.patch.object(compare, "_variance_inflation", return_value=1.0):  # the plain asymptotic U test
        plain = _row(compare_runs(base, cur, min_change_pct=0), "api", "p95_ms")
    assert plain["p_value"] < 0.01 and plain["direction"] == "regression"


def test_seconds_are_read_in_time_order_whatever_the_row_order():
    base, cur = synthetic_frames(30, **NOISY_NEIGHBOUR), synthetic_frames(31, **NOISY_NEIGHBOUR)
    shuffled = {**cur, "timeseries": cur["timeseries"].sample(frac=1.0, random_state=0)}
    pd.testing.assert_frame_equal(compare_runs(base, shuffled), compare_runs(base, cur))


def test_drift_plus_per_second_noise_holds_the_level_where_the_ar1_correction_does_not():
    """Slow drift plus each second's own noise (ARMA(1,1)): the noise lowers r1, not the drift's memory."""
    rejected = {"arma": 0, "ar1": 0}
    for seed in range(100):
        rng = np.random.default_rng(seed)
        base, cur = (_windows(ar1(rng, 240, 0.8, 1.0) + rng.normal(0, 1.0, 240)) for _ in range(2))  # one process
        rejected["arma"] += _mann_whitney_serial(base, cur)[0] < 0.05
        with mock.patch.object(compare, "_variance_inflation", ar1_variance_inflation):  # the previous correction
            rejected["ar1"] += _mann_whitney_serial(base, cur)[0] < 0.05
    assert rejected["arma"] <= 8 and rejected["ar1"] >= 12, rejected  # measured: 4 and 16 of 100 (plain U: 36)


def test_a_noisy_neighbour_on_a_nightly_length_run_is_no_change_though_the_ar1_correction_calls_one():
    base = synthetic_frames(130026, seconds=270, stages=LOAD_STAGES, **NOISY_NEIGHBOUR)
    cur = synthetic_frames(130027, seconds=270, stages=LOAD_STAGES, **NOISY_NEIGHBOUR)  # the same process
    corrected = compare_runs(base, cur)
    assert not corrected["significant"].any(), corrected[corrected["significant"]]
    row = _row(corrected, "api", "p99_ms")
    assert row["p_value"] > 0.05 and row["change_pct"] < -5 and row["n_current"] == 180  # two holds: 60 + 120 s
    with mock.patch.object(compare, "_variance_inflation", ar1_variance_inflation):
        previous = _row(compare_runs(base, cur), "api", "p99_ms")
    assert previous["p_value"] < 0.01 and previous["direction"] == "improvement" and previous["change_pct"] < -5


def test_the_arma_inflation_is_the_variance_of_a_finite_sum_and_reduces_to_ar1():
    r1, phi, m = 0.4, 0.8, 60
    k = np.arange(1, m)
    explicit = 1 + 2 * ((1 - k / m) * r1 * phi ** (k - 1)).sum()
    assert _arma_inflation(r1, r1 * phi, np.array([m]))[0] == pytest.approx(explicit, rel=1e-12)
    rho = 0.5  # AR(1): r2 = r1**2, phi = r1; a long segment gives (1 + rho) / (1 - rho)
    assert _arma_inflation(rho, rho**2, np.array([10**6]))[0] == pytest.approx((1 + rho) / (1 - rho), rel=1e-5)


@pytest.mark.parametrize(
    ("r1", "r2", "phi"),
    [
        (0.05, 0.045, 0.05),  # r1 below 1/sqrt(n) = 0.1: phi = r1 (AR(1)), not the unstable ratio 0.9
        (0.3, 0.0, 0.3),  # phi below r1 is raised to r1: never less than AR(1)
        (0.3, 0.29, MAX_CORRELATION),  # phi capped
        (0.99, 0.99, MAX_CORRELATION),  # r1 capped too
    ],
)
def test_the_arma_inflation_is_guarded(r1, r2, phi):
    m = np.array([100])
    capped = min(r1, MAX_CORRELATION)
    expected = 1 + 2 * capped * (1 / (1 - phi) - (1 - phi**m) / (m * (1 - phi) ** 2))
    assert _arma_inflation(r1, r2, m) == pytest.approx(expected, rel=1e-12)
    assert _arma_inflation(r1, r2, m)[0] <= 1 + 2 * MAX_CORRELATION / (1 - MAX_CORRELATION)
    assert _arma_inflation(-0.2, 0.1, m)[0] == 1.0


def test_a_trend_gives_a_bounded_inflation():
    values = np.arange(60.0)  # every neighbour alike: r1 and r2 near 1
    f = _side_inflation(_windows(values))
    assert 1 < f <= 1 + 2 * MAX_CORRELATION / (1 - MAX_CORRELATION)
    assert 0 < _mann_whitney_serial(_windows(values), _windows(values + 30))[0] < 1
