"""Benchmark: change-point detectors on the same synthetic run histories (figures in docs/regression.md).

Runs under any interpreter with numpy, so each candidate can live in its own throwaway venv:
    .venv/bin/python benchmarks/change_points.py --make-series .bench/series.json
    PYTHON benchmarks/change_points.py --series .bench/series.json --engine ENGINE
ENGINE: perfpipe (run from the repo root with .venv), ruptures-pelt-rbf, spa (signal-processing-algorithms),
otava (Apache Otava's Hunter algorithm), otava-orig (Otava's plain E-Divisive with permutations).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

RUNS, STEP_AT, STEP, SD = 60, 40, 15.0, 5.0  # nightly p95 ~ N(100 ms, 5 ms), +15 ms (3 sigma) from run 40


def make_series() -> dict:
    step = []
    for seed in range(20):
        values = np.random.default_rng(seed).normal(100.0, SD, RUNS)
        values[STEP_AT:] += STEP
        step.append(values.tolist())
    noise = [np.random.default_rng(100 + seed).normal(100.0, SD, RUNS).tolist() for seed in range(20)]
    rng = np.random.default_rng(7)
    two = np.concatenate([rng.normal(100, SD, 20), rng.normal(120, SD, 20), rng.normal(95, SD, 20)]).tolist()
    return {"step": step, "noise": noise, "two_steps": two}


def engine(name: str):
    """A function series -> sorted change-point indices (where a new regime starts)."""
    if name == "perfpipe":
        sys.path.insert(0, ".")
        from include.perfpipe.regression import detect_change_points

        return lambda x: detect_change_points(x)
    if name == "ruptures-pelt-rbf":
        import ruptures as rpt

        return lambda x: rpt.Pelt(model="rbf", min_size=3, jump=1).fit(np.asarray(x)).predict(pen=3)[:-1]
    if name == "spa":
        from signal_processing_algorithms.energy_statistics.energy_statistics import e_divisive

        np.random.seed(0)
        return lambda x: sorted(e_divisive(x, pvalue=0.01, permutations=199))
    if name == "otava":
        from otava.analysis import compute_change_points

        return lambda x: [cp.index for cp in compute_change_points(x, window_len=50, max_pvalue=0.001)[0]]
    if name == "otava-orig":
        from otava.analysis import compute_change_points_orig

        return lambda x: [cp.index for cp in compute_change_points_orig(x, max_pvalue=0.01, seed=0)[0]]
    raise SystemExit(f"unknown engine {name!r}")


def run(name: str, series: dict) -> dict:
    detect = engine(name)
    detect(series["noise"][0])  # warm-up: imports, compilation
    started = time.perf_counter()
    step = [[int(i) for i in detect(x)] for x in series["step"]]
    noise = [[int(i) for i in detect(x)] for x in series["noise"]]
    two = [int(i) for i in detect(series["two_steps"])]
    seconds = time.perf_counter() - started
    return {
        "engine": name,
        "step_found_within_1": sum(any(abs(i - STEP_AT) <= 1 for i in found) for found in step),
        "step_exactly_one_within_1": sum(len(f) == 1 and abs(f[0] - STEP_AT) <= 1 for f in step),
        "step_extra_points": sum(max(len(f) - 1, 0) for f in step),
        "noise_series_with_points": sum(bool(f) for f in noise),
        "two_steps (truth [20, 40])": two,
        "ms_per_series": round(1000 * seconds / (len(step) + len(noise) + 1), 1),
        "step_points": step,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--make-series")
    parser.add_argument("--series")
    parser.add_argument("--engine")
    args = parser.parse_args()
    if args.make_series:
        with open(args.make_series, "w") as f:
            json.dump(make_series(), f)
        return
    with open(args.series) as f:
        print(json.dumps(run(args.engine, json.load(f))))


if __name__ == "__main__":
    main()
