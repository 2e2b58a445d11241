"""Benchmark: how often compare_runs calls noise a regression, how often it finds real shifts, and its cost.

    .venv/bin/python -m benchmarks.regression_compare [--pairs 40]
Figures are recorded in docs/regression.md. Runs are seeded synthetic MetricsRecorder runs (40 s, ~120 req/s).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from include.perfpipe.regression import compare_runs, detect_change_points
from tests.unit.regression.synthetic import synthetic_frames


def false_alarms(pairs: int) -> str:
    """Independent pairs of runs from one distribution: share with any significant row."""
    flagged = small_p = 0
    for i in range(pairs):
        comparison = compare_runs(synthetic_frames(1000 + 2 * i), synthetic_frames(1001 + 2 * i))
        flagged += bool(comparison["significant"].any())
        small_p += bool((comparison["p_value"] < 0.05).any())
    return (f"same distribution: {flagged}/{pairs} pairs with a significant row, "
            f"{small_p}/{pairs} with any Holm-adjusted p < 0.05")


def power(pairs: int, shift: float) -> str:
    scale = {"list_items": 1 + shift, "get_item": 1 + shift}
    found = sum(
        _api_p95(compare_runs(synthetic_frames(2000 + 2 * i), synthetic_frames(2001 + 2 * i, scale=scale))) == "regression"
        for i in range(pairs)
    )
    return f"api latency +{shift:.0%}: api p95 called a regression in {found}/{pairs} pairs"


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
        lines.append(f"compare_runs on two {seconds} s runs (3 classes+total): {(time.perf_counter() - started) / 5 * 1000:.0f} ms")
    for runs in (20, 60, 200):
        values = np.random.default_rng(0).normal(100, 5, runs)
        values[runs // 2:] += 15
        detect_change_points(values)
        started = time.perf_counter()
        found = detect_change_points(values)
        lines.append(f"detect_change_points on {runs} runs: {(time.perf_counter() - started) * 1000:.0f} ms, found {found}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=40)
    args = parser.parse_args()
    print(false_alarms(args.pairs))
    for shift in (0.05, 0.10, 0.20):
        print(power(args.pairs // 2, shift))
    print("\n".join(cost()))


if __name__ == "__main__":
    main()
