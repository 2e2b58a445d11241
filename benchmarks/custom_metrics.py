"""Memory of custom metrics: a journey at 1,000 iterations/s (open model) feeding 5 custom metrics.

``python -m benchmarks.custom_metrics [--seconds 600] [--short 60]``

nginx (one worker, core 1) answers ``POST /orders`` with ``{"id": 7, "total": 12.5}``; the engine (one
process, core 0) runs one step per iteration at 1,000 iterations/s, feeding a counter, a gauge, a rate
and two trends (a number from the response and the step's duration). Peak RSS of the generator process
after ``--short`` seconds without and with the metrics (the peer, same run) and after ``--seconds`` with
them. Goal (issue 14): a 10-minute run with 5 custom metrics stays under 250 MB RSS. Prints a markdown
table for docs/benchmarks.md. ``python -m benchmarks.custom_metrics run URL SECONDS metrics|plain`` is one
engine run (a child process, pinned by the parent), printing one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.loadtest import ROOT, ensure_tools, pinned, start_nginx, table

RATE = 1000
NGINX_LOCATIONS = """
    default_type application/json;
    location = /orders { return 201 '{"id":7,"total":12.5}'; }
    location / { return 404; }
"""
METRICS = """
metrics:
  orders_created: {type: counter, thresholds: {count: ">= 1"}}
  last_order: {type: gauge}
  has_id: {type: rate, thresholds: {rate: "> 99%"}}
  order_total: {type: trend}
  order_ms: {type: trend, unit: ms, thresholds: {p95: "< 1s"}}
"""
STEP = """
journey:
  steps:
    - name: order
      method: POST
      path: /orders
      json: {item_id: 11}
      expect_status: 201
"""
FEEDS = """      metrics:
        orders_created: 1
        last_order: $.id
        has_id: {json: $.id}
        order_total: $.total
        order_ms: {duration: true}
"""


def run_engine(url: str, seconds: float, kind: str) -> dict:
    from include.perfpipe.loadtest import load_spec, run_load_test

    text = METRICS + STEP + FEEDS if kind == "metrics" else STEP
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "journey.yaml"
        scenario.write_text(text)
        spec = load_spec(
            "arrival",
            url,
            scenario,
            overrides={"rate": RATE, "max_vus": 200, "duration": seconds, "progress_interval": 3600},
        )
    result = run_load_test(spec, processes=1)
    frame = result.metrics_frame().set_index("name")
    return {
        "iterations": result.journey.iterations,
        "dropped": result.health.get("dropped", 0),
        "samples": int(frame["count"].sum()) if len(frame) else 0,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def engine(url: str, seconds: float, kind: str) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.custom_metrics", "run", url, str(seconds), kind]
    done = subprocess.run(pinned(0, cmd), capture_output=True, text=True, timeout=seconds + 180, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"engine {kind} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        url, seconds, kind = sys.argv[2], float(sys.argv[3]), sys.argv[4]
        print(json.dumps(run_engine(url, seconds, kind)))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--short", type=float, default=60)
    args = parser.parse_args()
    ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="perfpipe-bench-"))
    nginx, url = start_nginx(workdir, NGINX_LOCATIONS)
    rows = []
    try:
        for seconds, kind in ((args.short, "plain"), (args.short, "metrics"), (args.seconds, "metrics")):
            f = engine(url, seconds, kind)
            print(f"  {kind} {seconds:g} s: {f}", file=sys.stderr)
            rows.append(
                [
                    f"{seconds:g} s",
                    "5 custom metrics" if kind == "metrics" else "none (peer)",
                    f"{f['iterations']:,}",
                    f"{f['iterations'] / seconds:,.0f}",
                    f["dropped"],
                    f"{f['samples']:,}",
                    f"{f['max_rss_mb']:.0f}",
                ]
            )
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}; open model {RATE:,} iterations/s, engine on core 0, nginx on core 1.\n"
    )
    print(
        table(
            ["run", "custom metrics", "iterations", "iterations/s", "dropped", "metric samples", "peak RSS MB"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
