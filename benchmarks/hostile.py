"""Bounds the engine keeps against a hostile journey and a hostile response (issue 23, findings 2 and 3).

``python -m benchmarks.hostile [--timeout 60]``

1. End of a swallowing journey: a 1 s run (one VU, one process) of ``swallow`` below, a Python journey
   that catches ``Exception`` around every request and goes on; the wall time until the engine's
   process exits (killed at ``--timeout``), and the same for ``swallow_all`` (a bare ``except``).
2. A gzip bomb: 256 MB of zeros gzip-compressed (~256 KB on the wire) answered to a YAML step with a
   check and to a Python journey that reads the body; the peak RSS of the engine's process, against
   the same run on a plain ``ok`` response (the peer).

Each run is a child process (``python -m benchmarks.hostile run KIND URL``) against a threaded loopback
server in this process. Prints a markdown table for docs/RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOMB_DECODED_MB = 256
SCENARIOS = {
    "swallow": "journey: 'benchmarks.hostile:swallow'\n",
    "swallow_all": "journey: 'benchmarks.hostile:swallow_all'\n",
    "plain_check": "endpoints:\n  - {name: ok, path: /ok, checks: [{body_contains: ok}]}\n",
    "bomb_check": "endpoints:\n  - {name: bomb, path: /bomb, checks: [{body_contains: x}]}\n",
    "bomb_python": "journey: 'benchmarks.hostile:read_bomb'\n",
}


async def swallow(vu):
    while True:
        try:
            await vu.get("/ok")
        except Exception:
            continue


async def swallow_all(vu):
    while True:
        try:
            await vu.get("/ok")
        except:  # noqa: E722 (the point: a journey that swallows even the end of the test)
            continue


async def read_bomb(vu):
    response = await vu.get("/bomb")
    assert b"x" in response.content


@functools.lru_cache(maxsize=4)
def gzip_bomb(decoded_mb: int) -> bytes:
    """``decoded_mb`` MB of zeros, gzip-encoded a megabyte at a time (never all in memory)."""
    encoder, chunk = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(1 << 20)
    return b"".join([*(encoder.compress(chunk) for _ in range(decoded_mb)), encoder.flush()])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bomb = b""

    def do_GET(self) -> None:
        bomb = self.path == "/bomb"
        body = self.bomb if bomb else b"ok"
        self.send_response(200)
        if bomb:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def run_child(kind: str, url: str) -> None:
    """One engine run of ``kind`` against ``url``, in this process; prints one JSON line."""
    from include.perfpipe.loadtest import load_spec, run_load_test

    with tempfile.TemporaryDirectory() as folder:
        scenario = Path(folder) / f"{kind}.yaml"
        scenario.write_text(SCENARIOS[kind])
        spec = load_spec(
            "smoke", url, scenario=scenario, overrides={"vus": 1, "duration": "1s"}, allowlist=["127.0.0.1"]
        )
        began = time.monotonic()
        result = run_load_test(spec, processes=1)
        run_s = round(time.monotonic() - began, 1)
    total = result.stats_frame().set_index("name").loc["all"]
    print(json.dumps({"run_s": run_s, "requests": int(total["count"]), "statuses": total["status_counts"]}))


def measure(kind: str, url: str, timeout_s: float) -> dict:
    """Wall seconds until the child exits (None: killed at the timeout), its peak RSS in MB, and what it
    printed (``run_s``: how long ``run_load_test`` took, the interpreter's start left out)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.hostile", "run", kind, url], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    killer = threading.Timer(timeout_s, proc.kill)
    killer.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    ended = None if proc.returncode < 0 else round(time.monotonic() - began, 1)
    line = out.decode().strip().splitlines()[-1:] if out else []
    return {"seconds": ended, "peak_rss_mb": round(usage.ru_maxrss / 1024), "run": json.loads(line[0]) if line else {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a run is killed")
    if sys.argv[1:2] == ["run"]:
        run_child(sys.argv[2], sys.argv[3])
        return
    args = parser.parse_args()
    _Handler.bomb = gzip_bomb(BOMB_DECODED_MB)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"gzip bomb: {len(_Handler.bomb) / 1024:.0f} KB on the wire, {BOMB_DECODED_MB} MB decoded")
    rows = []
    for kind in ("swallow", "swallow_all", "plain_check", "bomb_check", "bomb_python"):
        figures = measure(kind, url, args.timeout)
        ended = f"{figures['seconds']} s" if figures["seconds"] is not None else f"killed at {args.timeout:g} s"
        run = figures["run"]
        returned = f"{run['run_s']} s" if run else "never"
        outcome = f"{run['requests']} requests, {run['statuses']}" if run else ""
        rows.append(f"| {kind} | {returned} | {ended} | {figures['peak_rss_mb']} | {outcome} |")
        print(rows[-1], flush=True)
    server.shutdown()
    print("\n| run (1 s, 1 VU) | run_load_test returned after | process ended after | peak RSS MB | recorded |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
