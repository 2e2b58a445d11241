"""Benchmark: does a load test scale out with shards? One shard against two, each pinned to its own core.

    .venv/bin/python -m benchmarks.shard_scaling [--seconds 10] [--users 50] [--repeat 3] [--same-core]

nginx (one worker, pinned to core 1, ``return 200``) is the target. Each shard is its own engine process pinned
with taskset (shard i on core i), coordinated as the DAG's mapped ``load_test`` tasks are: the same spec,
``shard_index``/``shard_count`` and one common start epoch, results merged with ``merge_results``. Run 1: one
shard with ``--users`` VUs on core 0, then on core 1. Run 2: two shards with ``--users`` VUs each, on cores 0
and 1. Prints req/s per run and shard and the ratio merged(2 shards) / the better one-shard run (a busy core
does not flatter the ratio), and requests per generator CPU-second (all shards' requests over all shards' CPU
time: what a request costs, whatever share of its core the machine left it) of the two shards over the mean of
the two one-shard runs (the two-shard run has a shard on each of those cores; the core shared with nginx gave
one shard 61k against 49k on the other in one round); repeats the rounds ``--repeat`` times.
``--same-core``: what sharding itself costs a request, which two cores can show: one shard with ``--users`` VUs
on core 0, then two shards with half of them each, both on core 0, so the load is the same, nginx keeps core 1
to itself and every run saturates core 0; and, as the control, two unsharded runs of half the VUs each on core
0 (two processes sharing a core's caches, with no sharding). Across two cores the two-shard run waits on nginx,
which shares a core with a shard, and a generator below 100 % of its core pays more wake-ups a request.
Figures: docs/benchmarks.md. Goals: req/s ratio >= 1.8 (needs a core per shard and one for the target),
per CPU-second ratio >= 0.95 (issue 24).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.loadtest import ROOT, ensure_tools, pinned, start_nginx

# covers the shards' interpreter start-up: at load 13 a shard began 4.0 s after a 3 s start_at and ran nothing
START_DELAY_S = 10.0


def run_shard(url: str, users: int, seconds: float, index: int, count: int, start_at: float) -> None:
    """One shard's part (one event loop), printed as LoadResult JSON."""
    from include.perfpipe.loadtest import load_spec, run_load_test

    spec = load_spec("smoke", url, overrides={"duration": seconds, "vus": users * count, "progress_interval": 3600})
    result = run_load_test(spec, processes=1, shard_index=index, shard_count=count, start_at=start_at)
    print(json.dumps(result.to_dict()))


def sharded_run(url: str, users: int, seconds: float, cores: list[int], sharded: bool = True) -> dict:
    """One pinned shard process per core in ``cores``, one common start; their merged figures and each shard's.
    ``sharded=False``: the same processes, each a whole unsharded run (the control for what sharding costs)."""
    from include.perfpipe.loadtest.result import LoadResult, merge_results

    start_at, count = time.time() + START_DELAY_S, len(cores) if sharded else 1
    procs = [
        subprocess.Popen(
            pinned(
                core,
                [sys.executable, "-m", "benchmarks.shard_scaling", "--shard", url, str(users), str(seconds)]
                + [str(i if sharded else 0), str(count), repr(start_at)],
            ),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i, core in enumerate(cores)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        assert proc.returncode == 0, f"shard exited with {proc.returncode}"
        results.append(LoadResult.from_dict(json.loads(out.strip().splitlines()[-1])))
    merged = merge_results(results)
    total = merged.stats_frame().set_index("name").loc["all"]
    shards = []
    for r in results:
        row = r.stats_frame().set_index("name").loc["all"]
        shards.append({"rps": float(row["rps"]), "cpu": r.health["cpu_percent"], "saturated": r.health["saturated"]})
    return {
        "rps": float(total["rps"]),
        "per_cpu": sum(s["rps"] for s in shards) / sum(s["cpu"] / 100 for s in shards),
        "errors": int(total["errors"]),
        "p95_ms": float(total["p95_ms"]),
        "shards": shards,
    }


def same_core(url: str, args) -> None:
    """One shard against two on core 0 with the same VUs in all, and, as the control, two unsharded runs of half
    the VUs side by side on core 0: requests per generator CPU-second."""
    print(
        "| round | 1 shard req/s (CPU %) | 2 shards req/s (CPU % each) | 2 unsharded runs req/s "
        "| 1 shard req per CPU-s | 2 shards req per CPU-s | 2 unsharded runs req per CPU-s | 2 shards / 1 "
        "| 2 shards / 2 unsharded | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    ratios, controls = [], []
    for round_no in range(1, args.repeat + 1):
        one = sharded_run(url, args.users, args.seconds, [0])
        two = sharded_run(url, args.users // 2, args.seconds, [0, 0])
        apart = sharded_run(url, args.users // 2, args.seconds, [0, 0], sharded=False)
        ratios.append(two["per_cpu"] / one["per_cpu"])
        controls.append(two["per_cpu"] / apart["per_cpu"])
        cpus = " + ".join(f"{s['cpu']:.0f}" for s in two["shards"])
        errors = one["errors"] + two["errors"] + apart["errors"]
        print(
            f"| {round_no} | {one['rps']:,.0f} ({one['shards'][0]['cpu']:.0f}) | {two['rps']:,.0f} ({cpus}) "
            f"| {apart['rps']:,.0f} | {one['per_cpu']:,.0f} | {two['per_cpu']:,.0f} | {apart['per_cpu']:,.0f} "
            f"| {ratios[-1]:.2f}x | {controls[-1]:.2f}x | {errors} |"
        )
    print(f"\nmedian per CPU-s ratio, 2 shards / 1 shard {sorted(ratios)[len(ratios) // 2]:.2f}x (goal >= 0.95x)")
    print(
        f"median per CPU-s ratio, 2 shards / 2 unsharded runs on the core {sorted(controls)[len(controls) // 2]:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=50, help="VUs per shard (default 50)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--same-core", action="store_true", help="one shard against two on core 0 (same VUs)")
    parser.add_argument("--shard", nargs=6, metavar=("URL", "USERS", "SECONDS", "INDEX", "COUNT", "START_AT"))
    args = parser.parse_args()
    if args.shard:
        url, users, seconds, index, count, start_at = args.shard
        run_shard(url, int(users), float(seconds), int(index), int(count), float(start_at))
        return
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="perfpipe-shards-") as workdir:
        nginx, url = start_nginx(Path(workdir))
        try:
            if args.same_core:
                same_core(url, args)
                return
            print(
                "| round | 1 shard req/s | 2 shards req/s (shard 0 + shard 1) | ratio | CPU % of the shards "
                "| 1 shard req per CPU-s | 2 shards req per CPU-s | per CPU-s ratio (to the mean) | errors |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            ratios, per_cpu_ratios = [], []
            for round_no in range(1, args.repeat + 1):
                ones = [sharded_run(url, args.users, args.seconds, [core]) for core in (0, 1)]
                two = sharded_run(url, args.users, args.seconds, [0, 1])
                ratio = two["rps"] / max(one["rps"] for one in ones)
                ratios.append(ratio)
                per_cpu_ratio = two["per_cpu"] / (sum(one["per_cpu"] for one in ones) / len(ones))
                per_cpu_ratios.append(per_cpu_ratio)
                per_cpu = " / ".join(f"{one['per_cpu']:,.0f}" for one in ones)
                singles = " / ".join(f"{one['rps']:,.0f}" for one in ones)
                parts = " + ".join(f"{s['rps']:,.0f}" for s in two["shards"])
                cpus = " / ".join(f"{one['shards'][0]['cpu']:.0f}" for one in ones)
                cpus += "; " + " + ".join(f"{s['cpu']:.0f}" for s in two["shards"])
                errors = sum(one["errors"] for one in ones) + two["errors"]
                print(
                    f"| {round_no} | {singles} | {two['rps']:,.0f} ({parts}) | {ratio:.2f}x | {cpus} | {per_cpu} "
                    f"| {two['per_cpu']:,.0f} | {per_cpu_ratio:.2f}x | {errors} |"
                )
            print(f"\nmedian ratio {sorted(ratios)[len(ratios) // 2]:.2f}x (goal >= 1.8x)")
            print(f"median per CPU-s ratio {sorted(per_cpu_ratios)[len(per_cpu_ratios) // 2]:.2f}x (goal >= 0.95x)")
        finally:
            nginx.terminate()
            nginx.wait(10)


if __name__ == "__main__":
    main()
