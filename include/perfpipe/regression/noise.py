"""A run judged against the run-to-run noise of its history, one series (a metric of a class) at a time.

The nights of a target differ from each other by more than the seconds of one night do (another host, a
warmer cache, a neighbour), so a run is judged against the spread of the comparable runs before it:

- **Noise** ``sigma``: the run-to-run standard deviation on a log scale (about a relative change), read from
  the differences of successive runs, so a lasting step spoils one difference and an outlier night two,
  and neither the estimate: a robust first guess (MAD), then the standard deviation of the differences within
  ``TRIM`` robust sigmas of it (the MAD alone is too unsteady: its relative error at 30 runs is 21 %, the
  trimmed one's 13 %).
- **Shift**: every tail of the last ``m`` runs (the judged run among them) against the ``reference`` runs
  before it (never runs the gate failed, never runs before a marked baseline), centred on their median ``mu``.
  ``T_m = sum(clip(z_i)) / sqrt(m * (1 + m * pi / (2 n)))``, ``z_i = (y_i - mu) / sigma``; the denominator is
  the spread of the sum under no change, the median of ``n`` reference runs included, and one run adds at
  most an outlier's score. A tail of at least two runs is a regression or an improvement since its first run
  (the tail with the largest ``|T_m|``) when ``T_m`` passes ``SHIFT_P``, the tail without its most extreme
  run still passes ``CONFIRM_P`` (one night does not carry it), its lower median lies beyond ``CONFIRM_Z`` and
  beyond the reference's own upper decile (a skewed or two-level series is not read as a shift), and it
  changed by ``min_change_pct`` at least.
- **Outlier**: the judged run alone beyond ``OUTLIER_P`` (its prediction interval): reported, never a
  regression until the next runs confirm it.

The critical values are Student's t with 2/3 of the noise's successive differences as degrees of freedom: the
noise of 30 runs is itself known within about 25 %, and a normal threshold read a noise underestimated by that
as a shift (measured: 5 of 6 false alarms over 4,800 simulated nights had a noise read at 0.61-0.75 of the true one).
The levels were chosen from the statistics (2.3e-4 per tail, 3 predictive sigmas for an outlier), not tuned on
a benchmark; ``benchmarks/regression_accuracy.py`` measures them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

MIN_REFERENCE = 6  # fewer comparable runs before a tail: the noise is not known
REFERENCE_RUNS = 30  # the reference is at most the 30 runs before a tail
TRIM = 3.5  # differences beyond 3.5 robust sigmas (a step, an outlier night) are left out of the noise
SHIFT_P = 2.3e-4  # one-sided p of a tail that is a shift (|T| beyond 3.5 were the noise known exactly)
CONFIRM_P = 0.01  # the tail without its most extreme run must still be off at this p (2.33 for a known noise)
OUTLIER_P = 1.35e-3  # the judged run alone this far out (3 predictive sigmas for a known noise): an outlier
CONFIRM_Z = 1.5  # the lower median of a tail (its smaller run when two) must lie this far out...
REFERENCE_SHARE = 0.9  # ...and beyond the reference's own upper decile (lower for an improvement)
NOISE_FLOOR = 0.005  # 0.5 %: a perfectly steady history does not make a 0.1 % change significant
ERROR_RATE_FLOOR = 0.005  # error rates are judged as they are (often 0), with half a point of noise at least
_MEDIAN_VARIANCE = math.pi / 2  # variance of a median of n normal values: pi/2 * sigma**2 / n


@dataclass(frozen=True)
class SeriesVerdict:
    """One series' verdict: ``status`` regression, improvement, outlier, unchanged or unknown (too few runs)."""

    status: str
    sigma: float | None = None  # run-to-run noise (log scale, or the error rate's own)
    reference_runs: int = 0
    change: float = math.nan  # tail (or outlier) against the reference: % for log series, points for error rate
    since: int | None = None  # index of the first run of the shift (the judged run for an outlier)
    score: float = 0.0  # T of the shift, z of an outlier; positive = worse
    worse: bool = False  # the outlier's direction

    @property
    def noise_pct(self) -> float | None:
        return None if self.sigma is None else _pct(self.sigma)


def judge_series(
    values: np.ndarray,
    reference_ok: np.ndarray,
    *,
    higher_is_better: bool = False,
    log_scale: bool = True,
    min_change: float = 5.0,
) -> SeriesVerdict:
    """The verdict of the last value of ``values`` (oldest first; NaN where a run has no value).

    ``reference_ok[i]``: run i may be a reference run (False for runs the gate failed or before a marked
    baseline; a run before the first allowed one is never in a tail either). ``min_change``: the smallest
    change that counts, in % (log series) or in points of error rate.
    """
    values = np.asarray(values, dtype=float)
    present = np.flatnonzero(np.isfinite(values) & ((values > 0) | (not log_scale)))
    if len(present) == 0 or present[-1] != len(values) - 1:
        return SeriesVerdict("unknown")
    y = np.log(values[present]) if log_scale else values[present]
    sigma = run_to_run_noise(y[:-1], floor=NOISE_FLOOR if log_scale else ERROR_RATE_FLOOR)
    allowed = np.asarray(reference_ok, dtype=bool)[present]
    first = int(np.argmax(allowed)) if allowed.any() else len(y) - 1
    if sigma is None or (len(y) - 1 - first) < runs_needed():
        return SeriesVerdict("unknown", sigma, max(0, len(y) - 1 - first))
    shift_t, confirm_t, outlier_t = (critical(p, len(y) - 2) for p in (SHIFT_P, CONFIRM_P, OUTLIER_P))
    sign = -1.0 if higher_is_better else 1.0  # positive z = worse
    best: dict[bool, tuple] = {}
    outlier = None
    for m in range(1, len(y) - first + 1):
        tail = np.arange(len(y) - m, len(y))
        reference = np.flatnonzero(allowed[: len(y) - m])[-REFERENCE_RUNS:]
        if len(reference) < MIN_REFERENCE:
            break
        mu = float(np.median(y[reference]))
        z = sign * (y[tail] - mu) / sigma
        change = _change(float(np.median(y[tail])) - mu, log_scale)
        if m == 1:
            score = float(z[0]) / math.sqrt(1 + _median_share(1, len(reference)))
            if abs(score) > outlier_t and abs(change) >= min_change:
                outlier = SeriesVerdict("outlier", sigma, len(reference), change, int(present[-1]), score, score > 0)
            continue
        z = np.clip(z, -outlier_t, outlier_t)  # one run adds at most what makes it an outlier
        score = _tail_score(z, len(reference))
        worse = score > 0
        off = np.sort(z if worse else -z)  # how far out each run of the tail is, in the shift's direction
        spread = sign * (y[reference] - mu) / sigma * (1 if worse else -1)
        shifted = (
            abs(score) > shift_t
            and _tail_score(off[:-1], len(reference)) > confirm_t  # not one extreme night carrying the tail
            and off[(m - 1) // 2] > max(CONFIRM_Z, float(np.quantile(spread, REFERENCE_SHARE)))
            and abs(change) >= min_change
        )
        if shifted and (worse not in best or abs(score) > abs(best[worse][0])):
            best[worse] = (score, change, int(present[tail[0]]), len(reference))
    for worse, status in ((True, "regression"), (False, "improvement")):
        if worse in best:
            score, change, since, n = best[worse]
            return SeriesVerdict(status, sigma, n, change, since, score, worse)
    if outlier is not None:
        return outlier
    n = len(np.flatnonzero(allowed[:-1])[-REFERENCE_RUNS:])
    return SeriesVerdict("unchanged", sigma, n)


def tail_shift(values: np.ndarray, reference_ok: np.ndarray, since: int) -> tuple[float, float]:
    """``(T, change %)`` of the runs of a log series (``values`` > 0, NaN where a run has none) from index ``since``
    to the last, against the reference before them, scored as ``judge_series`` scores a tail."""
    values = np.asarray(values, dtype=float)
    present = np.flatnonzero(np.isfinite(values) & (values > 0))
    y = np.log(values[present])
    sigma = run_to_run_noise(y[:-1], floor=NOISE_FLOOR)
    tail = present >= since
    allowed = np.asarray(reference_ok, dtype=bool)[present] & ~tail
    reference = np.flatnonzero(allowed)[-REFERENCE_RUNS:]
    if sigma is None or len(reference) < MIN_REFERENCE or not tail.any():
        return 0.0, math.nan
    mu = float(np.median(y[reference]))
    cap = critical(OUTLIER_P, len(y) - 2)
    z = np.clip((y[tail] - mu) / sigma, -cap, cap)
    return _tail_score(z, len(reference)), _change(float(np.median(y[tail])) - mu, log_scale=True)


def _tail_score(z: np.ndarray, reference_runs: int) -> float:
    """``T`` of a tail of ``len(z)`` runs: about N(0, 1) under no change, the median of the reference included."""
    return float(z.sum()) / math.sqrt(len(z) * (1 + _median_share(len(z), reference_runs)))


def _median_share(m: int, reference_runs: int) -> float:
    return m * _MEDIAN_VARIANCE / reference_runs


@functools.cache
def runs_needed() -> int:
    """The fewest earlier comparable runs whose noise can tell a shift of two nights at all: two runs at the
    outlier's score (the most one run adds) beyond ``SHIFT_P``, the noise read from their differences (17 runs;
    with fewer, the within-run comparison with the baseline decides)."""
    runs = MIN_REFERENCE
    while 2 * critical(OUTLIER_P, runs - 1) <= critical(SHIFT_P, runs - 1) * math.sqrt(
        2 * (1 + _median_share(2, min(REFERENCE_RUNS, runs - 1)))
    ):
        runs += 1
    return runs


@functools.lru_cache(maxsize=256)
def critical(p: float, differences: int) -> float:
    """The one-sided ``p`` critical value of a score whose noise was read from ``differences`` successive
    differences: Student's t with 2/3 of them as degrees of freedom (the efficiency of a noise read from
    differences), so a history whose noise is known from few runs needs a larger change (at 29 differences,
    3.5 becomes 4.0)."""
    from scipy.stats import t

    return float(t.isf(p, max(2 * differences / 3, 1.0)))


def run_to_run_noise(y: np.ndarray, floor: float) -> float | None:
    """The standard deviation of one run against the next, from successive differences; None under
    ``MIN_REFERENCE`` runs."""
    if len(y) < MIN_REFERENCE:
        return None
    differences = np.diff(y)
    robust = 1.4826 * float(np.median(np.abs(differences)))
    kept = differences[np.abs(differences) <= TRIM * robust] if robust > 0 else differences
    sigma = math.sqrt(float(np.mean(kept**2)) / 2) if len(kept) else 0.0
    return max(sigma, floor)


def detectable(sigma: float, reference_runs: int, log_scale: bool = True) -> float:
    """The change two runs in a row must show to be told apart from the noise (``T_2`` at ``SHIFT_P``, the
    noise read from the reference's differences): % for log series, points for error rate."""
    share = _median_share(2, max(reference_runs, 1))
    return _change(critical(SHIFT_P, max(reference_runs - 1, 1)) * sigma * math.sqrt(2 * (1 + share)) / 2, log_scale)


def _change(difference: float, log_scale: bool) -> float:
    return _pct(difference) if log_scale else difference * 100


def _pct(log_difference: float) -> float:
    return (math.exp(log_difference) - 1) * 100
