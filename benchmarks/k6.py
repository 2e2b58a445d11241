"""k6 through perfpipe against bare k6 on the same core: what our per-sample reading costs, and whether our
numbers are k6's.

``python -m benchmarks.k6 [--seconds 8] [--vus 50] [--rounds 4]``
``python -m benchmarks.k6 --reader-memory 600 --rate 5000``: the reader's memory over 600 simulated seconds of
k6 output at 5,000 requests/s (a flat GET's lines, every one k6 writes), printed every 60 s.
``python -m benchmarks.k6 --reader FILE``: the reader's CPU per request over a recorded ``--out json`` file, with
the timing phases skipped and carried.
``python -m benchmarks.k6 --record FILE``: record such a file (bare k6, perfpipe's system tags, 20 VUs, 3 s).

nginx (one worker, core 1) serves ``return 200``; k6 runs a flat GET script **on core 0** in these ways, in
rounds (every way once per round, back to back, so a busy moment of this shared machine hits each alike):
- ``plain``: bare k6 as a user runs it (no per-sample output; k6's own summary only);
- ``plain-gc``: the same with the Go collector settings perfpipe gives k6 (``runner.go_runtime``);
- ``json`` / ``csv``: bare k6 with ``--out json=FILE`` / ``--out csv=FILE`` (k6's default tags);
- ``perfpipe``: the k6 engine (``K6Engine`` via the composition root): our flags, ``--out json`` into a FIFO
  read by our reader into ``MetricsRecorder``. This process, hence k6 and the reader, is pinned to core 0.
Per way: req/s (k6's ``http_reqs`` rate) and CPU microseconds per request (k6's, plus for ``perfpipe`` this
process's: reader, supervisor and log threads). Ratios are taken within each round, then the median over
rounds; the load average is printed before and after. For ``perfpipe``, our p50/p95/p99 of
``http_req_duration`` against k6's own summary of the same run, and the counts.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.loadtest import K6_FLAT_SCRIPT, bare_metrics, ensure_tools, start_nginx, table

WAYS = ("plain", "plain-gc", "json", "csv", "perfpipe")


def bare(way: str, url: str, script: Path, vus: int, seconds: float, workdir: Path) -> dict:
    from include.perfpipe.k6.runner import go_runtime

    out = {"json": ["--out", f"json={workdir / 'samples.json'}"], "csv": ["--out", f"csv={workdir / 'samples.csv'}"]}
    env = go_runtime() if way == "plain-gc" else {}
    metrics = bare_metrics(url, script, vus, seconds, workdir / f"{way}-summary.json", out.get(way, []), env)
    written = sum(f.stat().st_size for f in workdir.glob("samples.*"))
    for f in workdir.glob("samples.*"):
        f.unlink()
    requests = metrics["http_reqs"]
    cpu_us = metrics["cpu_s"] * 1e6 / requests["count"]
    return {"rps": requests["rate"], "cpu_us": cpu_us, "mb_per_s": written / seconds / 1e6}


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
    os.sched_setaffinity(0, {0})  # the reader (this process) shares k6's core, and k6 inherits it
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    try:
        [result] = run_shards_here(spec, 1, {})
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    ours_s, k6_s = (a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before, strict=True))
    k6 = result.extra["k6_shard_0"]["summary"]["metrics"]
    total = result.stats_frame().set_index("name").loc["all"]
    return {
        "rps": k6["http_reqs"]["rate"],
        "cpu_us": (ours_s + k6_s) * 1e6 / k6["http_reqs"]["count"],
        "k6_cpu_us": k6_s * 1e6 / k6["http_reqs"]["count"],
        "reader_cpu_us": result.health["reader_cpu_s"] * 1e6 / k6["http_reqs"]["count"],
        "recorded": int(total["count"]),
        "k6_count": int(k6["http_reqs"]["count"]),
        "ours": {p: float(total[f"p{p}_ms"]) for p in (50, 95, 99)},
        "theirs": {p: k6["http_req_duration"]["med" if p == 50 else f"p({p})"] for p in (50, 95, 99)},
        "reader_lag_s": result.health["reader_lag_max_s"],
    }


def flat_get_second(stamp: str, rate: int) -> bytes:
    """One second of k6's ``--out json`` for a flat GET at ``rate`` requests/s with perfpipe's system tags:
    every line k6 writes per request (13), the ones the reader skips included."""
    tags = '"tags":{"expected_response":"true","group":"","name":"http://127.0.0.1:8000/",'
    tags += '"scenario":"default","status":"200"}'
    point = '{"metric":"%s","type":"Point","data":{"time":"%s.%09dZ","value":%s,%s}}\n'
    per_request = ["http_reqs", "http_req_duration", "http_req_blocked", "http_req_connecting"]
    per_request += ["http_req_tls_handshaking", "http_req_sending", "http_req_waiting", "http_req_receiving"]
    per_request += ["http_req_failed", "data_sent", "data_received", "iterations", "iteration_duration"]
    lines = []
    for i in range(rate):
        at = i * (1_000_000_000 // rate)
        lines += [point % (metric, stamp, at, 1 + i % 50, tags) for metric in per_request]
    return "".join(lines).encode()


def declarations() -> bytes:
    kinds = {"http_reqs": "counter", "http_req_failed": "rate", "iterations": "counter", "data_sent": "counter"}
    names = ["http_reqs", "http_req_duration", "http_req_failed", "iterations", "iteration_duration", "data_sent"]
    line = '{"type":"Metric","data":{"name":"%s","type":"%s","contains":"default","thresholds":[],'
    line += '"submetrics":null},"metric":"%s"}\n'
    return "".join(line % (name, kinds.get(name, "trend"), name) for name in names).encode()


def reader_memory(seconds: int, rate: int) -> None:
    """RSS of this process while the reader takes ``seconds`` of synthetic k6 output at ``rate`` requests/s."""
    import psutil

    from include.perfpipe.k6.samples import K6Samples

    start = 1_800_000_000
    samples = K6Samples(start)
    samples.feed(declarations())
    process = psutil.Process()
    print(f"reader memory, {rate:,} requests/s of synthetic k6 output\n")
    print(table(["simulated s", "RSS MB"], []))
    for second in range(seconds):
        samples.feed(flat_get_second(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + second)), rate))
        if (second + 1) % 60 == 0:
            print(f"| {second + 1} | {process.memory_info().rss / 1e6:.0f} |", flush=True)


def record(path: Path, vus: int = 20, seconds: float = 3.0) -> None:
    """Bare k6 (flat GET against nginx, core 0) writing ``--out json`` with perfpipe's system tags to ``path``."""
    from include.perfpipe.k6.runner import NEEDED_SYSTEM_TAGS

    ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="perfpipe-k6-record-"))
    nginx, url = start_nginx(workdir)
    try:
        script = workdir / "flat.js"
        script.write_text(K6_FLAT_SCRIPT)
        flags = ["--out", f"json={path}", "--system-tags", ",".join(NEEDED_SYSTEM_TAGS)]
        metrics = bare_metrics(url.rstrip("/"), script, vus, seconds, workdir / "summary.json", flags)
        count = metrics["http_reqs"]["count"]
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{count:,} requests into {path} ({path.stat().st_size / 1e6:.1f} MB)")


def reader_cpu(path: Path, rounds: int = 5) -> None:
    """The reader's CPU per request over a recorded ``--out json`` file (read from memory; best of ``rounds``),
    skipping the timing phases (the default) and carrying them (a threshold names them), alternated."""
    from include.perfpipe.k6.samples import TIMING_PHASES, K6Samples

    data = path.read_bytes()
    ways = {"timing phases skipped": (), "timing phases carried": TIMING_PHASES}
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(rounds):
        for way, carried in ways.items():
            samples = K6Samples(time.time(), carried=carried)
            began = time.process_time()
            samples.read(io.BufferedReader(io.BytesIO(data)))
            best[way] = min(best[way], (time.process_time() - began) * 1e6 / samples.requests)
    print(f"{samples.requests:,} requests, {len(data) / 1e6:.1f} MB; load average {os.getloadavg()[0]:.1f}")
    for way, per_request in best.items():
        print(f"{way}: {per_request:.2f} CPU-us a request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--vus", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--reader-memory", type=int, metavar="SECONDS")
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--reader", type=Path, metavar="FILE")
    parser.add_argument("--record", type=Path, metavar="FILE")
    args = parser.parse_args()
    if args.reader_memory:
        reader_memory(args.reader_memory, args.rate)
        return
    if args.record:
        record(args.record)
        return
    if args.reader:
        reader_cpu(args.reader)
        return
    ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="perfpipe-k6-bench-"))
    nginx, url = start_nginx(workdir)
    url = url.rstrip("/")
    script = workdir / "flat.js"
    script.write_text(K6_FLAT_SCRIPT)
    rounds: list[dict[str, dict]] = []
    load_before = os.getloadavg()
    try:
        for _ in range(args.rounds):
            rounds.append({})
            for way in WAYS:
                if way == "perfpipe":
                    rounds[-1][way] = through_perfpipe(url, script, args.vus, args.seconds)
                else:
                    rounds[-1][way] = bare(way, url, script, args.vus, args.seconds, workdir)
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print(report(rounds, args, load_before, os.getloadavg()))


def report(rounds: list[dict[str, dict]], args, load_before: tuple, load_after: tuple) -> str:
    def median(way: str, figure: str) -> float:
        return statistics.median(r[way][figure] for r in rounds)

    def ratio(way: str, peer: str) -> str:
        """Median over rounds of req/s and of CPU per request (peer's over ours: above 1 is cheaper)."""
        rps = statistics.median(r[way]["rps"] / r[peer]["rps"] for r in rounds)
        cpu = statistics.median(r[peer]["cpu_us"] / r[way]["cpu_us"] for r in rounds)
        return f"{rps:.2f}x / {cpu:.2f}x"

    rows = [
        [
            way,
            f"{median(way, 'rps'):,.0f}",
            f"{median(way, 'cpu_us'):.1f}",
            ratio(way, "plain"),
            ratio(way, "plain-gc"),
            f"{median(way, 'mb_per_s'):.1f}" if "mb_per_s" in rounds[0][way] else "",
        ]
        for way in WAYS
    ]
    ours = max((r["perfpipe"] for r in rounds), key=lambda f: f["rps"])
    lines = [
        f"k6 flat GET, {args.vus} VUs, {args.seconds:g} s, {len(rounds)} rounds (k6 on core 0, nginx on core 1); "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after\n",
        table(
            [
                "way",
                "req/s (median)",
                "CPU-us a request (median)",
                "vs plain: req/s / per CPU (median of rounds)",
                "vs plain-gc: req/s / per CPU",
                "output MB/s",
            ],
            rows,
        ),
        "",
        "per round, req/s: " + "; ".join(", ".join(f"{w} {r[w]['rps']:,.0f}" for w in WAYS) for r in rounds),
        f"perfpipe (its fastest round) recorded {ours['recorded']} requests; k6 counted {ours['k6_count']}",
        f"reader's largest backlog {ours['reader_lag_s']:.2f} s",
        f"perfpipe's CPU-us a request (median): k6 {median('perfpipe', 'k6_cpu_us'):.1f}, the reader "
        f"{median('perfpipe', 'reader_cpu_us'):.1f}, this process in all (reader, supervisor, logs, results) "
        f"{median('perfpipe', 'cpu_us') - median('perfpipe', 'k6_cpu_us'):.1f}",
    ]
    for p in (50, 95, 99):
        mine, theirs = ours["ours"][p], ours["theirs"][p]
        lines.append(f"p{p}: ours {mine:.3f} ms, k6 {theirs:.3f} ms ({(mine - theirs) / theirs:+.2%})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
