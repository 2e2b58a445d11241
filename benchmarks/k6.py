"""k6 through perfpipe against bare k6: what each per-sample output costs k6, and whether our numbers are k6's.

``python -m benchmarks.k6 [--seconds 10] [--vus 50] [--rounds 2]``
``python -m benchmarks.k6 --reader-memory 600 --rate 5000``: the reader's memory over 600 simulated seconds of
k6 output at 5,000 requests/s (three decoded lines a request, as a flat GET's), printed every 60 s.

nginx (one worker, core 1) serves ``return 200``; k6 runs a flat GET script on core 0 in four ways, each
``--rounds`` times, interleaved so a busy moment of this shared machine hits every way alike:
- ``plain``: no per-sample output (k6's end-of-test summary only);
- ``json`` / ``csv``: ``--out json=FILE`` / ``--out csv=FILE`` to a file;
- ``perfpipe``: the k6 engine (``K6Engine`` via the composition root): ``--out json`` into a FIFO read by
  our reader into ``MetricsRecorder``, the reader also on core 0.
It prints req/s (k6's own ``http_reqs`` rate, the best round) and each way's ratio to ``plain``, and for
``perfpipe`` our p50/p95/p99 of ``http_req_duration`` against k6's own summary of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.loadtest import pinned, start_nginx, table
from include.perfpipe.k6.runner import environment, k6_binary

SCRIPT = """import http from 'k6/http';
export default function () { http.get(__ENV.BASE_URL + '/'); }
"""
WAYS = ("plain", "json", "csv", "perfpipe")


def bare(way: str, url: str, script: Path, vus: int, seconds: float, workdir: Path) -> dict:
    out = {"json": ["--out", f"json={workdir / 'samples.json'}"], "csv": ["--out", f"csv={workdir / 'samples.csv'}"]}
    metrics = bare_metrics(url, script, vus, seconds, workdir / f"{way}-summary.json", out.get(way, []))
    written = sum(f.stat().st_size for f in workdir.glob("samples.*"))
    for f in workdir.glob("samples.*"):
        f.unlink()
    return {"rps": metrics["http_reqs"]["rate"], "mb_per_s": written / seconds / 1e6}


def bare_metrics(url: str, script: Path, vus: int, seconds: float, summary: Path, flags: list[str]) -> dict:
    """k6's own end-of-test metrics (``--summary-export``) of bare k6 running ``script`` on core 0 for
    ``vus`` VUs and ``seconds`` (``--vus``/``--duration``: the script's scenarios, if any, are replaced)."""
    argv = [k6_binary(), "run", "--quiet", "--no-usage-report", "--vus", str(vus), "--duration", f"{seconds:g}s"]
    argv += ["--summary-export", str(summary), *flags, str(script)]
    subprocess.run(pinned(0, argv), env=environment(url), check=True, capture_output=True, timeout=seconds + 120)
    return json.loads(summary.read_text())["metrics"]


def through_perfpipe(url: str, script: Path, vus: int, seconds: float) -> dict:
    from include.perfpipe.k6.cli import run_shards_here
    from include.perfpipe.runs import plan_run
    from include.perfpipe.validation import load_thresholds

    spec = plan_run(
        "smoke",
        url,
        load_thresholds(profile="smoke", target=url),
        overrides={"vus": vus, "duration": f"{seconds:g}s"},
        allowlist=["127.0.0.1"],
        engine="k6",
        k6_script=script,
    ).spec
    os.sched_setaffinity(0, {0})  # the reader shares k6's core
    try:
        [result] = run_shards_here(spec, 1, {})
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    k6 = result.extra["k6_shard_0"]["summary"]["metrics"]
    total = result.stats_frame().set_index("name").loc["all"]
    return {
        "rps": k6["http_reqs"]["rate"],
        "recorded": int(total["count"]),
        "k6_count": int(k6["http_reqs"]["count"]),
        "ours": {p: float(total[f"p{p}_ms"]) for p in (50, 95, 99)},
        "theirs": {p: k6["http_req_duration"]["med" if p == 50 else f"p({p})"] for p in (50, 95, 99)},
        "reader_lag_s": result.health["reader_lag_max_s"],
    }


def reader_memory(seconds: int, rate: int) -> None:
    """RSS of this process while the reader takes ``seconds`` of synthetic k6 output at ``rate`` requests/s."""
    import psutil

    from include.perfpipe.k6.samples import K6Samples

    start = 1_800_000_000
    samples = K6Samples(start)
    declare = b'{"type":"Metric","data":{"name":"iteration_duration","type":"trend","contains":"time"},"metric":"x"}'
    samples.feed(declare)
    tags = (
        '"tags":{"expected_response":"true","group":"","method":"GET","name":"flat","scenario":"default",'
        '"status":"200"}'
    )
    point = '{"metric":"%s","type":"Point","data":{"time":"%s.%09dZ","value":%s,%s}}'
    process = psutil.Process()
    print(f"reader memory, {rate:,} requests/s of synthetic k6 output\n")
    print(table(["simulated s", "RSS MB"], []))
    for second in range(seconds):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + second))
        for i in range(rate):
            at = i * (1_000_000_000 // rate)
            for metric, value in (("http_req_duration", 1 + i % 50), ("iterations", 1), ("iteration_duration", 2)):
                samples.feed((point % (metric, stamp, at, value, tags)).encode())
        if (second + 1) % 60 == 0:
            print(f"| {second + 1} | {process.memory_info().rss / 1e6:.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--vus", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reader-memory", type=int, metavar="SECONDS")
    parser.add_argument("--rate", type=int, default=5000)
    args = parser.parse_args()
    if args.reader_memory:
        reader_memory(args.reader_memory, args.rate)
        return
    workdir = Path(tempfile.mkdtemp(prefix="perfpipe-k6-bench-"))
    nginx, url = start_nginx(workdir)
    url = url.rstrip("/")
    script = workdir / "flat.js"
    script.write_text(SCRIPT)
    best: dict[str, dict] = {}
    try:
        for _ in range(args.rounds):
            for way in WAYS:
                if way == "perfpipe":
                    figures = through_perfpipe(url, script, args.vus, args.seconds)
                else:
                    figures = bare(way, url, script, args.vus, args.seconds, workdir)
                if figures["rps"] > best.get(way, {}).get("rps", 0):
                    best[way] = figures
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    plain = best["plain"]["rps"]
    rows = [
        [way, f"{best[way]['rps']:,.0f}", f"{best[way]['rps'] / plain:.2f}x", f"{best[way].get('mb_per_s', 0):.1f}"]
        for way in WAYS
    ]
    print(f"k6 flat GET, {args.vus} VUs, {args.seconds:g} s, best of {args.rounds} (k6 on core 0, nginx on core 1)\n")
    print(table(["way", "req/s", "vs plain", "output MB/s"], rows))
    ours = best["perfpipe"]
    print(f"\nperfpipe recorded {ours['recorded']} requests; k6 counted {ours['k6_count']}")
    print(f"reader's largest backlog {ours['reader_lag_s']:.2f} s")
    for p in (50, 95, 99):
        mine, theirs = ours["ours"][p], ours["theirs"][p]
        print(f"p{p}: ours {mine:.3f} ms, k6 {theirs:.3f} ms ({(mine - theirs) / theirs:+.2%})")


if __name__ == "__main__":
    main()
