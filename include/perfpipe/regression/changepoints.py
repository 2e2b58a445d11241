"""E-Divisive change-point detection over a run history (Matteson & James, 2014).

The divisive search is ruptures' ``Binseg`` driven by an energy-distance cost: with
``cost(segment) = sum |x_i - x_j| / len(segment)`` the gain of splitting a segment at ``tau`` is
exactly E-Divisive's statistic ``Q(tau)`` (alpha = 1). Each new split is kept only if it passes
E-Divisive's permutation test (values shuffled within the current segments); the search stops at
the first split that does not. See docs/regression.md for the choice and a measured comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def detect_change_points(
    values: Sequence[float],
    min_size: int = 3,
    alpha: float = 0.01,
    permutations: int = 199,
    seed: int = 0,
) -> list[int]:
    """Indices (ascending) where a new regime starts in ``values``; ``[]`` if none is significant.

    ``min_size`` is the fewest points a regime may have; a split is significant when the share of
    ``permutations`` shuffles that score at least as high is at most ``alpha``. Seeded: same input,
    same answer.
    """
    series = _checked_series(values, min_size, alpha, permutations)
    if len(series) < 2 * min_size:
        return []
    import ruptures as rpt
    from ruptures.exceptions import BadSegmentationParameters

    search = rpt.Binseg(custom_cost=_energy_cost(), min_size=min_size, jump=1).fit(series)
    rng = np.random.default_rng(seed)
    bounds = [len(series)]
    while True:
        try:
            candidate = search.predict(n_bkps=len(bounds))
        except BadSegmentationParameters:
            break
        added = sorted(set(candidate) - set(bounds))
        if not added:
            break
        split = added[0]
        start = max([0, *[b for b in bounds if b < split]])
        end = min(b for b in bounds if b > split)
        observed = _split_gains(series[start:end], min_size)[split - start - min_size]
        if not _significant(series, bounds, observed, min_size, alpha, permutations, rng):
            break
        bounds = sorted([*bounds, split])
    return bounds[:-1]


def _checked_series(values: Sequence[float], min_size: int, alpha: float, permutations: int) -> np.ndarray:
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise ValueError(f"min_size must be a positive integer, got {min_size!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 1:
        raise ValueError(f"permutations must be a positive integer, got {permutations!r}")
    series = []
    for index, value in enumerate(values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"values[{index}] is not a number: {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"values[{index}] is not finite: {value!r}")
        series.append(number)
    return np.asarray(series, dtype=float)


def _split_gains(segment: np.ndarray, min_size: int) -> np.ndarray:
    """E-Divisive's Q for every split ``tau`` in ``min_size .. len - min_size`` of ``segment``."""
    n = len(segment)
    distances = np.abs(segment[:, None] - segment[None, :])
    prefix = np.zeros((n + 1, n + 1))
    prefix[1:, 1:] = distances.cumsum(axis=0).cumsum(axis=1)
    tau = np.arange(min_size, n - min_size + 1)
    left, right = tau, n - tau
    within_left = prefix[tau, tau]
    left_rows = prefix[tau, n]
    between = left_rows - within_left
    within_right = prefix[n, n] - 2 * left_rows + within_left
    energy = 2 * between / (left * right) - within_left / left**2 - within_right / right**2
    return left * right / n * energy


def _significant(
    series: np.ndarray,
    bounds: list[int],
    observed: float,
    min_size: int,
    alpha: float,
    permutations: int,
    rng: np.random.Generator,
) -> bool:
    """Whether the permutation p-value, ``(1 + shuffles whose best split scores >= observed) / (permutations +
    1)`` with values shuffled within each current segment, is at most ``alpha``. The count only grows, so the
    shuffles stop once it is too high: the same answer (a failed test ends the search, so the generator is not
    read again), and a split that is noise is refused after a few shuffles instead of 199."""
    segments = [series[s:e] for s, e in zip([0, *bounds[:-1]], bounds, strict=False) if e - s >= 2 * min_size]
    at_least = 0
    for _ in range(permutations):
        best = max(_split_gains(rng.permutation(segment), min_size).max() for segment in segments)
        at_least += best >= observed * (1 - 1e-12)
        if (at_least + 1) / (permutations + 1) > alpha:
            return False
    return True


def _energy_cost():
    """A ruptures cost whose split gain is E-Divisive's Q (built lazily: ruptures imports slowly)."""
    from ruptures.base import BaseCost

    class EnergyCost(BaseCost):
        model = "energy"
        min_size = 1

        def fit(self, signal: np.ndarray) -> EnergyCost:
            self.signal = signal.reshape(len(signal), -1)
            flat = self.signal[:, 0]
            distances = np.abs(flat[:, None] - flat[None, :])
            self._prefix = np.zeros((len(flat) + 1, len(flat) + 1))
            self._prefix[1:, 1:] = distances.cumsum(axis=0).cumsum(axis=1)
            return self

        def error(self, start: int, end: int) -> float:
            p = self._prefix
            return (p[end, end] - p[start, end] - p[end, start] + p[start, start]) / (end - start)

    return EnergyCost()
