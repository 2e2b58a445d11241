"""Three parallel scenarios against one scenario with the same total VUs, on one core, against nginx.

    .venv/bin/python -m benchmarks.scenarios [--vus 60] [--seconds 8] [--rounds 3]

nginx (one worker, core 1) answers ``ok``; our engine runs pinned to core 0 (taskset), one process,
alternating the two shapes per round: ``one`` is a constant_vus scenario of all the VUs, ``three``
splits them over three named scenarios (constant_vus, ramping_vus holding flat, per_vu_iterations
with more iterations than the time allows), each with its own tag. Prints req/s per round and the
ratio of the medians (goal: three >= 0.9 x one).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.loadtest import ROOT, pinned, start_nginx

ONE = """
scenarios:
  everyone:
    executor: constant_vus
    vus: {vus}
    duration: {seconds}s
    endpoints: [{{name: get, path: /}}]
"""
THREE = """
scenarios:
  browse:
    executor: constant_vus
    vus: {third}
    duration: {seconds}s
    tags: {{flow: browse}}
    endpoints: [{{name: get, path: /}}]
  checkout:
    executor: ramping_vus
    start_vus: {third}
    stages: [{{duration: {seconds}s, target: {third}}}]
    tags: {{flow: checkout}}
    endpoints: [{{name: get, path: /}}]
  batch:
    executor: per_vu_iterations
    vus: {third}
    iterations: 100000000
    max_duration: {seconds}s
    tags: {{flow: batch}}
    endpoints: [{{name: get, path: /}}]
"""


def run_one(path: str, url: str) -> dict:
    from include.perfpipe.loadtest.run import run_load_test
    from include.perfpipe.loadtest.spec import load_spec

    result = run_load_test(load_spec("smoke", url, path, overrides={"circuit_breaker": {}}), processes=1)
    total = result.stats_frame().set_index("scope").loc["total"]
    return {"requests": int(total["count"]), "rps": float(total["count"]) / result.duration_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vus", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("FILE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    work = Path(tempfile.mkdtemp(prefix="perfpipe-scenarios-"))
    files = {
        "one": ONE.format(vus=args.vus, seconds=args.seconds),
        "three": THREE.format(third=args.vus // 3, seconds=args.seconds),
    }
    for name, text in files.items():
        (work / f"{name}.yaml").write_text(text)
    nginx, url = start_nginx(work)
    rps: dict[str, list[float]] = {"one": [], "three": []}
    try:
        for round_ in range(args.rounds):
            for name in ("one", "three") if round_ % 2 == 0 else ("three", "one"):
                cmd = [sys.executable, "-m", "benchmarks.scenarios", "--child", str(work / f"{name}.yaml"), url]
                done = subprocess.run(
                    pinned(0, cmd), capture_output=True, text=True, cwd=ROOT, timeout=args.seconds + 120
                )
                if done.returncode:
                    raise RuntimeError(done.stderr[-2000:])
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                rps[name].append(figures["rps"])
                print(f"round {round_ + 1} {name:5s} {figures['rps']:10.0f} req/s ({figures['requests']} requests)")
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
    one, three = statistics.median(rps["one"]), statistics.median(rps["three"])
    print(f"median one {one:.0f} req/s, three {three:.0f} req/s: three/one = {three / one:.3f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
