"""Benchmark: how often compare_runs calls noise a regression, how often it finds real shifts, and its cost.

    .venv/bin/python -m benchmarks.regression_compare [--pairs 40]
Figures are recorded in docs/regression.md. Runs are seeded synthetic MetricsRecorder runs (~120 req/s),
with independent seconds or with a noisy neighbour (latencies times exp of an AR(1) drift, rho 0.8, sd 0.1);
the longest case has the stages of the nightly `load` profile (270 s, holds of 60 s and 120 s).
Every figure is given with the serial-correlation correction (ARMA(1,1)), with the previous AR(1) one and
without any (the plain asymptotic U test).
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager, nullcontext
from unittest import mock

import numpy as np

from include.perfpipe.regression import compare, compare_runs, detect_change_points
from tests.unit.regression.synthetic import LOAD_STAGES, ar1_variance_inflation, synthetic_frames

DRIFT = {"drift_rho": 0.8, "drift_sd": 0.1}
MODES = {  # the same comparison with another variance inflation; uncorrected: f = 1, the plain asymptotic U test
    "ARMA(1,1)": nullcontext,
    "AR(1)": lambda: mock.patch.object(compare, "_variance_inflation", ar1_variance_inflation),
    "uncorrected": lambda: mock.patch.object(compare, "_variance_inflation", return_value=1.0),
}


@contextmanager
def unadjusted():
    """Holm left out: each row's own p-value, to see how well the test alone holds its 5 %."""
    with mock.patch.object(compare, "_holm", side_effect=list):
        yield


def false_alarms(pairs: int, seed: int, run: dict) -> list[str]:
    """Pairs of runs from one process: with a significant row (5 % and 0 % floor), with any p < 0.05, and the
    share of latency rows whose unadjusted p < 0.05 (5 % for a test that holds its level)."""
    counts = {mode: np.zeros(5, int) for mode in MODES}
    for i in range(pairs):
        base, cur = synthetic_frames(seed + 2 * i, **run), synthetic_frames(seed + 1 + 2 * i, **run)
        for mode, context in MODES.items():
            with context():
                floored, unfloored = compare_runs(base, cur), compare_runs(base, cur, min_change_pct=0)
                with unadjusted():
                    raw = compare_runs(base, cur)
            latency = raw[(raw["scope"] != "endpoint") & raw["metric"].str.endswith("_ms")]
            counts[mode] += [
                floored["significant"].any(),
                unfloored["significant"].any(),
                (unfloored["p_value"] < 0.05).any(),
                (latency["p_value"] < 0.05).sum(),
                len(latency),
            ]
    return [
        f"  {mode}: significant row {a}/{pairs} (min_change_pct=0: {b}/{pairs}), any Holm-adjusted p < 0.05 "
        f"{c}/{pairs}; latency rows with unadjusted p < 0.05: {d}/{e} ({d / e:.0%})"
        for mode, (a, b, c, d, e) in counts.items()
    ]


def power(pairs: int, shift: float, seed: int, run: dict) -> str:
    """Pairs whose api p95 is called a regression when every api request is ``shift`` slower."""
    scale = {"list_items": 1 + shift, "get_item": 1 + shift}
    found = dict.fromkeys(MODES, 0)
    for i in range(pairs):
        base = synthetic_frames(seed + 2 * i, **run)
        cur = synthetic_frames(seed + 1 + 2 * i, scale=scale, **run)
        for mode, context in MODES.items():
            with context():
                found[mode] += _api_p95(compare_runs(base, cur)) == "regression"
    return f"  api latency +{shift:.0%}: api p95 a regression in " + ", ".join(
        f"{n}/{pairs} {mode}" for mode, n in found.items()
    )


def _api_p95(comparison) -> str:
    row = comparison[(comparison["name"] == "api") & (comparison["metric"] == "p95_ms")]
    return row["direction"].iloc[0]


def cost() -> list[str]:
    lines = []
    for seconds in (40, 300):
        base, cur = synthetic_frames(1, seconds=seconds), synthetic_frames(2, seconds=seconds)
        compare_runs(base, cur)
        started = time.perf_counter()
        for _ in range(5):
            compare_runs(base, cur)
        lines.append(
            f"compare_runs on two {seconds} s runs (3 classes+total): "
            f"{(time.perf_counter() - started) / 5 * 1000:.0f} ms"
        )
    for runs in (20, 60, 200):
        values = np.random.default_rng(0).normal(100, 5, runs)
        values[runs // 2 :] += 15
        detect_change_points(values)
        started = time.perf_counter()
        found = detect_change_points(values)
        lines.append(
            f"detect_change_points on {runs} runs: {(time.perf_counter() - started) * 1000:.0f} ms, found {found}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=40)
    args = parser.parse_args()
    started = time.perf_counter()
    nightly = {**DRIFT, "seconds": 270, "stages": LOAD_STAGES}
    cases = (  # title, run parameters, first seed, same-distribution pairs, pairs per api latency shift, shifts
        ("40 s runs, independent seconds", {}, 1000, args.pairs, args.pairs // 2, (0.05, 0.10, 0.20)),
        (
            "40 s runs, noisy neighbour (AR(1) drift, rho 0.8, sd 0.1)",
            DRIFT,
            3000,
            args.pairs,
            args.pairs // 2,
            (0.10, 0.20),
        ),
        (
            "120 s runs, noisy neighbour",
            {**DRIFT, "seconds": 120},
            5000,
            args.pairs // 2,
            args.pairs // 4,
            (0.10, 0.20),
        ),
        (
            "270 s runs, `load` stages (180 steady s in two holds), noisy neighbour",
            nightly,
            7000,
            args.pairs // 4,
            args.pairs // 4,
            (0.10, 0.20),
        ),
    )
    for title, run, seed, pairs, power_pairs, shifts in cases:
        print(f"{title}: {pairs} same-distribution pairs")
        print("\n".join(false_alarms(pairs, seed, run)))
        for shift in shifts:
            print(power(power_pairs, shift, seed + 1000, run))
        sys.stdout.flush()
    print("\n".join(cost()))
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
