"""Run one shard's parts: one uvloop event loop per process, all from a common start, whatever the client.

An Airflow task runs shard ``shard_index`` of ``shard_count`` (dynamic task mapping) and may split
its share over ``processes`` local processes; every part runs ``1 / (shard_count * processes)`` of
the VUs or arrivals from the same ``start_at`` and the parts' results merge exactly. What a part sends
is its ``Client``'s (``engine.client``); the HTTP load test's checks before the run are ``loadtest.run``'s.
"""

from __future__ import annotations

import json
import logging
import os
import queue as queue_module
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from include.perfpipe.custom_metrics import combine_snapshots
from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.engine.client import Client, name_of
from include.perfpipe.loadtest.engine.generator import EngineSpec, drain_s, run_to_end
from include.perfpipe.loadtest.http.credentials import looks_secret
from include.perfpipe.loadtest.result import LoadResult, merge_results

log = logging.getLogger("perfpipe.loadtest")
STARTUP_TIMEOUT_S = 120.0
RUN_GRACE_S = 10.0  # past the duration and the drain: time for the workers to hand in their results
WORKER_MODULE = "include.perfpipe.loadtest.engine.worker"
PROJECT_ROOT = Path(__file__).resolve().parents[4]
_DATABASE_URL = re.compile(r"DB_URL|DSN|DATABASE_URL|SQL_ALCHEMY_CONN", re.IGNORECASE)


def resolve_processes(processes: int | str, vus: int | None = None) -> int:
    """``processes`` as a count: ``"auto"`` is the number of cores this process may run on, but no more
    than ``vus`` (this shard's peak VUs, when given), so that no process is left without a VU."""
    if processes == "auto":
        cores = len(os.sched_getaffinity(0))
        return cores if vus is None else max(1, min(cores, vus))
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ConfigError(f"processes: expected an integer >= 1 or 'auto', got {processes!r}")
    return processes


def run_shard_parts(
    spec: EngineSpec,
    client: type[Client],
    processes: int,
    shard_index: int,
    shard_count: int,
    start_at: float | None,
    progress: Callable[[dict], None] | None = None,
    should_stop: Callable[[], str | bool | None] | None = None,
    on_abort: Callable[[str], None] | None = None,
    secret_headers: dict[str, str] | None = None,
) -> LoadResult:
    """Run shard ``shard_index`` of ``shard_count`` as ``processes`` parts (one in this process, or one worker
    process each) and merge their results; the hooks are ``runs.engines.RunHooks``'."""
    parts = shard_count * processes
    hooks = (progress, should_stop, on_abort, secret_headers)
    if processes == 1:
        return run_part(spec, client, shard_index, parts, start_at or time.time() + 0.05, *hooks)
    return _run_processes(spec, client, processes, shard_index * processes, parts, start_at, *hooks)


def run_part(
    spec: EngineSpec,
    client: type[Client],
    index: int,
    count: int,
    start_at: float,
    progress=None,
    should_stop=None,
    on_abort=None,
    secret_headers: dict[str, str] | None = None,
) -> LoadResult:
    """Run part ``index`` of ``count`` on a fresh uvloop event loop in this process."""
    import uvloop

    _raise_file_limit()
    part = client.generator(spec, index, count, progress, should_stop, on_abort, secret_headers)
    return run_to_end(part.run(start_at), uvloop.new_event_loop)


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _run_processes(
    spec: EngineSpec,
    client: type[Client],
    processes: int,
    first: int,
    count: int,
    start_at,
    progress,
    should_stop=None,
    on_abort=None,
    secret_headers: dict[str, str] | None = None,
) -> LoadResult:
    """Run parts ``first .. first + processes - 1`` in worker subprocesses (``loadtest.engine.worker``).

    Subprocesses rather than multiprocessing: nothing of the caller's ``__main__`` is re-imported and
    it works inside daemonic worker processes (Celery). Every worker says when it is ready; the
    common start is then sent to all; a worker that aborts makes the parent stop the others and call
    ``on_abort``; ``should_stop``, checked at least every second once they started, stops them all.
    """
    env = {
        **engine_environment(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
        )
        for _ in range(processes)
    ]
    messages: queue_module.Queue = queue_module.Queue()
    for p, worker in enumerate(workers):
        job = {"client": name_of(client), "spec": spec.to_dict(), "index": first + p, "count": count}
        _send(worker, {**job, "secret_headers": secret_headers or {}})
        threading.Thread(target=_read_lines, args=(p, worker, messages), daemon=True).start()
    ready, results, latest, failure = set(), {}, {}, None
    rounds, emitted, stopped, garbled = [0] * processes, 0, False, 0
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    run_deadline = None  # monotonic; set once the common start is known
    try:
        while len(results) < processes and failure is None:
            if not stopped and len(ready) == processes and should_stop is not None:
                stopped = _stop_if_asked(workers, should_stop())
            if run_deadline is not None and time.monotonic() > run_deadline:
                break
            try:
                p, message = messages.get(timeout=1.0)
            except queue_module.Empty:
                if len(ready) < processes and time.monotonic() > deadline:
                    failure = "load test worker processes did not start in time"
                continue
            kind = message.get("kind")
            if kind == "ready":
                ready.add(p)
                if len(ready) == processes:
                    start = start_at if start_at is not None else time.time() + 0.2
                    run_deadline = (
                        time.monotonic() + (start - time.time()) + spec.duration_s + drain_s(spec) + RUN_GRACE_S
                    )
                    for worker in workers:
                        _send(worker, {"start_at": start})
            elif kind == "progress":  # once every process has reported its next snapshot: their sum
                latest[p], rounds[p] = message["progress"], rounds[p] + 1
                if min(rounds) > emitted:
                    emitted = min(rounds)
                    _combined_progress(latest, progress)
            elif kind == "aborted":
                for worker in workers:
                    _send(worker, {"stop": True})
                if on_abort is not None:
                    on_abort(message["reason"])
            elif kind == "result":
                results[p] = LoadResult.from_dict(message["result"])
            elif kind == "garbled":
                garbled += 1
            else:
                failure = f"load test worker {first + p} failed: {message.get('error', message)}"
    finally:
        late = [p for p in range(processes) if p not in results]
        for p, worker in enumerate(workers):
            if p in late and run_deadline is not None and time.monotonic() > run_deadline:
                worker.kill()  # past the run's deadline: no more waiting
            _send(worker, {"stop": True})
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
    if failure:
        raise RuntimeError(failure)
    if not results:
        raise RuntimeError(
            f"no load test worker finished by the run deadline ({spec.duration_s:g} s + "
            f"{drain_s(spec) + RUN_GRACE_S:g} s grace); all {processes} were ended"
        )
    merged = merge_results([results[p] for p in sorted(results)])
    if garbled:
        merged.health["notes"] = [
            *merged.health.get("notes", []),
            f"{garbled} line(s) of worker output looked like JSON but were not (logged, ignored)",
        ]
    if late:
        log.error("load test workers %s did not finish by the run deadline and were ended", [first + p for p in late])
        merged.health["reasons"] = [
            *merged.health["reasons"],
            *(f"part {first + p} did not finish by the run deadline and was ended: its share is missing" for p in late),
        ]
        merged.health["saturated"] = True
    return merged


def engine_environment() -> dict[str, str]:
    """This process's environment without what could hold a secret (Airflow connections and variables,
    database URLs, secret-looking names): a worker process needs none of it."""
    return {
        name: value
        for name, value in os.environ.items()
        if not (name.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_")) or looks_secret(name) or _DATABASE_URL.search(name))
    }


def _stop_if_asked(workers: list[subprocess.Popen], stop: str | bool | None) -> bool:
    """Send every worker a stop (with the reason when ``stop`` is one) if ``stop`` is truthy."""
    if stop:
        for worker in workers:
            _send(worker, {"stop": True, "reason": stop if isinstance(stop, str) else None})
    return bool(stop)


def _send(worker: subprocess.Popen, message: dict) -> None:
    try:
        worker.stdin.write(json.dumps(message) + "\n")
        worker.stdin.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass  # the worker is gone; its exit is noticed on its stdout


def _read_lines(p: int, worker: subprocess.Popen, messages: queue_module.Queue) -> None:
    """Queue each JSON message of a worker; a line that only looks like one (a library printing ``{...``)
    is logged and counted (a ``garbled`` message), and reading goes on."""
    for line in worker.stdout:
        if line.startswith("{"):
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("load test worker %d printed a line that is not JSON: %.200r", p, line)
                message = {"kind": "garbled"}
            messages.put((p, message))
    if worker.wait() != 0:
        messages.put((p, {"kind": "error", "error": f"exit code {worker.returncode}"}))


def _combined_progress(latest: dict, progress) -> None:
    """Sum the processes' latest figures; p95 is the highest process's p95 (an upper bound)."""
    snaps = list(latest.values())
    combined = {
        "elapsed_s": max(s["elapsed_s"] for s in snaps),
        "vus": sum(s["vus"] for s in snaps),
        "rps": round(sum(s["rps"] for s in snaps), 1),
        "p95_ms": max((s["p95_ms"] for s in snaps if s["p95_ms"] == s["p95_ms"]), default=float("nan")),
        "requests": sum(s["requests"] for s in snaps),
        "errors": sum(s["errors"] for s in snaps),
        "dropped": sum(s["dropped"] for s in snaps),
    }
    if any("metrics" in s for s in snaps):
        combined["metrics"] = combine_snapshots([s.get("metrics") or {} for s in snaps])
    log.info(
        "elapsed %(elapsed_s)ss vus %(vus)s req/s %(rps)s p95 %(p95_ms)s ms errors %(errors)s dropped %(dropped)s",
        combined,
    )
    if progress is not None:
        progress(combined)
