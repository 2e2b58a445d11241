"""Seeded synthetic runs recorded through a real MetricsRecorder: as LoadResult dicts or as frames."""

from __future__ import annotations

import math

import numpy as np

from include.perfpipe.metrics import MetricsRecorder

ENDPOINTS = {"list_items": ("api", 0.020), "get_item": ("api", 0.015), "health": ("health", 0.002)}
SLOWER_API = {"list_items": 1.2, "get_item": 1.2}  # every api request 20 % slower, health untouched
LOAD_STAGES = [  # the nightly `load` profile (include/config/profiles.yaml): 270 s, holds at 30-90 s and 120-240 s
    {"start_s": 0, "end_s": 30, "kind": "ramp"},
    {"start_s": 30, "end_s": 90, "kind": "hold"},
    {"start_s": 90, "end_s": 120, "kind": "ramp"},
    {"start_s": 120, "end_s": 240, "kind": "hold"},
    {"start_s": 240, "end_s": 270, "kind": "ramp"},
]


def record_run(
    seed: int,
    seconds: int = 40,
    per_second: int = 40,
    scale: dict[str, float] | None = None,
    error_rate: float = 0.0,
    rate_scale: float = 1.0,
    drift_rho: float = 0.0,
    drift_sd: float = 0.0,
) -> MetricsRecorder:
    """Log-normal latencies; ``scale`` multiplies an endpoint's latencies (1.2 = +20 %), ``rate_scale`` its rate.

    ``drift_sd`` > 0 adds a noisy neighbour: every latency of second t is multiplied by ``exp(a_t)``, ``a`` a
    stationary AR(1) process with lag-1 correlation ``drift_rho`` and standard deviation ``drift_sd``.
    """
    rng = np.random.default_rng(seed)
    recorder = MetricsRecorder()
    scale = scale or {}
    drift = np.exp(ar1(np.random.default_rng([seed, 1]), seconds, drift_rho, drift_sd))
    for second in range(seconds):
        recorder.set_active_vus(second, 10)
        for name, (class_name, median_s) in ENDPOINTS.items():
            n = rng.poisson(per_second * rate_scale)
            latencies = median_s * scale.get(name, 1.0) * drift[second] * rng.lognormal(0.0, 0.35, n)
            failed = rng.random(n) < error_rate
            finished = second + rng.random(n)
            for latency, bad, at in zip(latencies, failed, finished, strict=False):
                recorder.record(name, class_name, float(latency), not bad, 500 if bad else 200, float(at))
    return recorder


def ar1(rng: np.random.Generator, n: int, rho: float, sd: float) -> np.ndarray:
    """``n`` steps of a stationary AR(1) process (mean 0, standard deviation ``sd``); zeros when ``sd`` is 0."""
    shocks = rng.normal(0.0, sd, n)
    series = np.empty(n)
    for t in range(n):
        series[t] = shocks[0] if t == 0 else rho * series[t - 1] + math.sqrt(1 - rho**2) * shocks[t]
    return series


def hold_all(seconds: int = 40) -> list[dict]:
    return [{"start_s": 0, "end_s": seconds, "kind": "hold"}]


def synthetic_run(seed: int, seconds: int = 40, stages: list[dict] | None = None, **kwargs) -> dict:
    """A ``LoadResult``-shaped dict (``metrics``, ``duration_s``, ``stages``)."""
    recorder = record_run(seed, seconds=seconds, **kwargs)
    return {
        "metrics": recorder.to_dict(),
        "duration_s": float(seconds),
        "stages": hold_all(seconds) if stages is None else stages,
    }


def synthetic_frames(seed: int, seconds: int = 40, stages: list[dict] | None = None, **kwargs) -> dict:
    """The ``{"stats", "timeseries", "stages"}`` input of ``compare_runs``."""
    recorder = record_run(seed, seconds=seconds, **kwargs)
    return {
        "stats": recorder.stats_frame(seconds),
        "timeseries": recorder.timeseries_frame(),
        "stages": hold_all(seconds) if stages is None else stages,
    }


def ar1_variance_inflation(base, cur) -> float:
    """The previous correction (commit b0cfca7), kept to compare against: each side's ``f = (1 + rho) / (1 - rho)``.

    ``rho``: lag-1 rank autocorrelation within steady segments plus ``k (1 + 4 rho) / n``, clamped to [0, 0.95];
    the sides combined as ``compare._variance_inflation`` does. ``base``/``cur``: ``compare.Windows``.
    """
    from scipy.stats import rankdata

    def side(windows) -> float:
        ranks = rankdata(windows.values)
        _, segment = np.unique(windows.segment, return_inverse=True)
        centred = ranks - (np.bincount(segment, ranks) / np.bincount(segment))[segment]
        squares = float((centred**2).sum())
        if squares == 0:
            return 1.0
        r = float((centred[1:] * centred[:-1])[segment[1:] == segment[:-1]].sum()) / squares
        rho = float(np.clip(r + (segment.max() + 1) * (1 + 4 * r) / len(ranks), 0.0, 0.95))
        return (1 + rho) / (1 - rho)

    n_base, n_cur = len(base.values), len(cur.values)
    return (n_cur * side(base) + n_base * side(cur)) / (n_base + n_cur)
