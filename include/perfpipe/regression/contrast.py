"""Each class's latency against the other classes': a slower night of the host slows every class alike and cancels
in the difference, so a change of one class is judged against the noise that is its own.

In the benchmark of docs/regression.md the night-to-night noise of a class's p95 is 3-9 % and that of api against
health about 2-3 % (the sampling noise of the two percentiles). The difference cannot say which side moved: api
slower and health faster look alike. So a shift of the difference (``judge_series``, its full tests) is a class's
regression (or improvement) only when, over the same tail, the class's own series agrees beyond ``CONFIRM_P`` and
by ``min_change`` at least, and the other classes' own series is not off the other way even at ``REST_P``:
otherwise another class's improvement on slow nights would read as this class's regression. The tail is the
difference's, so the class's own test is made once, not over every tail (hence the 1 % level). Where classes do not
share their noise, the difference is noisier than the class and adds little.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from include.perfpipe.metrics import ALL
from include.perfpipe.regression.noise import (
    CONFIRM_P,
    NOISE_FLOOR,
    SeriesVerdict,
    critical,
    judge_series,
    run_to_run_noise,
    tail_shift,
)

LATENCY_METRICS = ("p50_ms", "p95_ms", "p99_ms")  # throughput and errors are not slowed by the host's night alike
AGAINST = "the other classes"
REST_P = 0.1  # the other classes' own tail must not be off the other way even at this (lenient) level


def contrast_verdicts(series: dict, reference_ok: np.ndarray, min_change: float) -> dict:
    """``{(metric, class_name): SeriesVerdict}`` of the classes whose latency shifted against the other classes'
    (regression or improvement only); empty with fewer than two classes. ``series`` as ``history_gate``'s."""
    verdicts = {}
    for metric in LATENCY_METRICS:
        for class_name, (own, rest) in _against_rest(series, metric).items():
            verdict = judge_contrast(own, rest, reference_ok, min_change)
            if verdict is not None:
                verdicts[(metric, class_name)] = verdict
    return verdicts


def ratio_noise(series: dict, metric: str = "p95_ms") -> float | None:
    """The largest run-to-run noise (%) of a class's ``metric`` against the other classes', the judged (last) run
    left out as ``judge_series`` leaves it; None with fewer than two classes or too few runs."""
    noises = []
    for own, rest in _against_rest(series, metric).values():
        ratio = own / rest
        y = np.log(ratio[np.isfinite(ratio) & (ratio > 0)])
        sigma = run_to_run_noise(y[:-1], floor=NOISE_FLOOR)
        if sigma is not None:
            noises.append(math.expm1(sigma) * 100)
    return max(noises) if noises else None


def _against_rest(series: dict, metric: str) -> dict:
    """``{class_name: (its values, the other classes' median per run)}`` of ``metric``; empty under two classes."""
    own = {k: np.asarray(v, dtype=float) for (m, k), v in series.items() if m == metric and k != ALL}
    if len(own) < 2:
        return {}
    logs = {k: np.log(np.where(v > 0, v, np.nan)) for k, v in own.items()}
    return {
        k: (v, np.exp(np.median(np.vstack([y for o, y in logs.items() if o != k]), axis=0))) for k, v in own.items()
    }


def judge_contrast(
    own: np.ndarray, rest: np.ndarray, reference_ok: np.ndarray, min_change: float
) -> SeriesVerdict | None:
    """The shift of ``own / rest`` (both latencies, aligned with the runs) as ``own``'s regression or improvement,
    its change ``own``'s own; None when there is none or ``own`` does not agree with it."""
    shift = judge_series(own / rest, reference_ok, min_change=0.0)
    if shift.status not in ("regression", "improvement"):
        return None
    direction = 1.0 if shift.status == "regression" else -1.0
    own_score, change = tail_shift(own, reference_ok, shift.since)
    rest_score, _ = tail_shift(rest, reference_ok, shift.since)
    differences = int(np.isfinite(own).sum()) - 2
    agrees = (
        direction * own_score > critical(CONFIRM_P, differences)
        and direction * rest_score > -critical(REST_P, differences)  # the others did not move the other way
        and direction * change >= min_change
    )
    return dataclasses.replace(shift, change=change) if agrees else None
