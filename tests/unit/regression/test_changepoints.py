import numpy as np
import pytest

from include.perfpipe.regression import detect_change_points
from include.perfpipe.regression.changepoints import _energy_cost, _split_gains

SEEDS = range(20)


def _history(seed: int, step_at: int | None, runs: int = 30, step: float = 20.0) -> np.ndarray:
    """Nightly p95 in ms: N(100, 5) per run, plus ``step`` ms from run ``step_at`` on."""
    values = np.random.default_rng(seed).normal(100.0, 5.0, runs)
    if step_at is not None:
        values[step_at:] += step
    return values


@pytest.mark.parametrize("step_at", [8, 15, 22])
def test_step_change_is_found_within_one_run(step_at):
    """A +20 % step (4 sigma): measured over 100 seeds, 97-100 % give exactly this one change point."""
    found = {seed: detect_change_points(_history(seed, step_at), seed=seed) for seed in SEEDS}
    for seed, points in found.items():
        assert any(abs(p - step_at) <= 1 for p in points), (seed, points)
    assert sum(len(points) > 1 for points in found.values()) <= 1, found


def test_pure_noise_of_the_same_variance_has_no_change_point():
    with_change = [seed for seed in SEEDS if detect_change_points(_history(seed, None), seed=seed)]
    assert len(with_change) <= 1, with_change  # alpha = 0.01: measured 1 false alarm in 100 series


def test_two_steps_are_both_found():
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(100, 5, 20), rng.normal(120, 5, 20), rng.normal(95, 5, 20)])
    assert detect_change_points(values) == [20, 40]


def test_result_is_deterministic_and_scale_free():
    values = _history(3, 18)
    assert detect_change_points(values, seed=5) == detect_change_points(values, seed=5)
    assert detect_change_points(values * 1000) == detect_change_points(values)


def test_constant_short_and_single_regime_series_have_none():
    assert detect_change_points([42.0] * 30) == []
    assert detect_change_points([1.0, 2.0, 30.0, 31.0, 32.0]) == []  # shorter than 2 * min_size
    assert detect_change_points([]) == []


def test_min_size_bounds_the_regimes():
    rng = np.random.default_rng(1)
    values = np.r_[rng.normal(100, 2, 10), rng.normal(130, 2, 10), rng.normal(160, 2, 10)]
    assert detect_change_points(values, min_size=3) == [10, 20]
    found = detect_change_points(values, min_size=12)
    assert len(found) == 1 and min(found[0], 30 - found[0]) >= 12


def test_ruptures_gain_with_the_energy_cost_is_e_divisive_q():
    values = np.random.default_rng(2).normal(0, 1, 25)
    cost = _energy_cost().fit(values)
    gains = _split_gains(values, 3)
    for tau in range(3, 23):
        ruptures_gain = cost.error(0, 25) - cost.error(0, tau) - cost.error(tau, 25)
        assert ruptures_gain == pytest.approx(gains[tau - 3], rel=1e-9)
    left, right = values[:10], values[10:]
    between = np.abs(left[:, None] - right[None, :]).mean()
    energy = 2 * between - np.abs(left[:, None] - left).mean() - np.abs(right[:, None] - right).mean()
    assert gains[10 - 3] == pytest.approx(10 * 15 / 25 * energy)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": [1.0, float("nan"), 2.0]}, r"values\[1\] is not finite"),
        ({"values": [1.0, "x"]}, r"values\[1\] is not a number"),
        ({"values": [1.0], "min_size": 0}, "min_size"),
        ({"values": [1.0], "alpha": 0}, "alpha"),
        ({"values": [1.0], "permutations": 0}, "permutations"),
    ],
)
def test_bad_input_names_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detect_change_points(**kwargs)
