"""Run a load test: check the target, then one uvloop event loop per process, all from a common start.

An Airflow task runs shard ``shard_index`` of ``shard_count`` (dynamic task mapping) and may split
its share over ``processes`` local processes; every part runs ``1 / (shard_count * processes)`` of
the VUs or arrivals from the same ``start_at`` and the parts' results merge exactly.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import queue as queue_module
import resource
import time
from collections.abc import Callable

from include.perfpipe.loadtest.engine import make_shard
from include.perfpipe.loadtest.result import LoadResult, merge_results
from include.perfpipe.loadtest.spec import LoadSpec
from include.perfpipe.loadtest.target import check_target, probe_target, split_url

log = logging.getLogger("perfpipe.loadtest")
STARTUP_TIMEOUT_S = 120.0


def run_load_test(
    spec: LoadSpec | dict,
    processes: int = 1,
    shard_index: int = 0,
    shard_count: int = 1,
    start_at: float | None = None,
    progress: Callable[[dict], None] | None = None,
) -> LoadResult:
    """Run this shard's part of ``spec`` and return its ``LoadResult``.

    ``start_at`` (epoch seconds) is the run's common start; None means as soon as every process is
    ready. Disallowed targets raise ``TargetNotAllowed`` and unreachable ones ``TargetUnreachable``
    before a single request. ``progress`` gets ``{elapsed_s, vus, rps, p95_ms, requests, errors,
    dropped}`` every ``spec.progress_interval_s``.
    """
    if isinstance(spec, dict):
        spec = LoadSpec.from_dict(spec)
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes: expected an integer >= 1, got {processes!r}")
    if not isinstance(shard_count, int) or shard_count < 1:
        raise ValueError(f"shard_count: expected an integer >= 1, got {shard_count!r}")
    if not isinstance(shard_index, int) or not 0 <= shard_index < shard_count:
        raise ValueError(f"shard_index: expected 0 <= shard_index < {shard_count}, got {shard_index!r}")
    for endpoint in spec.endpoints:
        check_target(endpoint.url, spec.allowlist)
    for url in {split_url(e.url): e.url for e in spec.endpoints}.values():
        probe_target(url)
    parts = shard_count * processes
    if processes == 1:
        return run_part(spec, shard_index, parts, start_at or time.time() + 0.05, progress)
    return _run_processes(spec, processes, shard_index * processes, parts, start_at, progress)


def run_part(spec: LoadSpec, index: int, count: int, start_at: float, progress=None, should_stop=None,
             on_abort=None) -> LoadResult:
    """Run part ``index`` of ``count`` on a fresh uvloop event loop in this process."""
    import uvloop

    _raise_file_limit()
    shard = make_shard(spec, index, count, progress, should_stop, on_abort)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(shard.run(start_at))


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _child(spec_dict, index, count, start_at, messages, stop, go, start_value) -> None:
    """A worker process: announce readiness, wait for the common start, run, send the result back."""
    try:
        spec = LoadSpec.from_dict(spec_dict)
        messages.put(("ready", index, None))
        if not go.wait(STARTUP_TIMEOUT_S):
            return
        start = start_at if start_at is not None else start_value.value
        result = run_part(
            spec, index, count, start, progress=lambda snap: messages.put(("progress", index, snap)),
            should_stop=stop.is_set, on_abort=stop.set,
        )
        messages.put(("result", index, result.to_dict()))
    except BaseException as exc:  # reported to the parent, which fails the run
        stop.set()
        messages.put(("error", index, f"{type(exc).__name__}: {exc}"))


def _run_processes(spec: LoadSpec, processes: int, first: int, count: int, start_at, progress) -> LoadResult:
    ctx = multiprocessing.get_context("spawn")
    messages, stop, go, start_value = ctx.Queue(), ctx.Event(), ctx.Event(), ctx.Value("d", 0.0)
    workers = [
        ctx.Process(target=_child, args=(spec.to_dict(), first + p, count, start_at, messages, stop, go, start_value),
                    name=f"perfpipe-loadtest-{first + p}", daemon=True)
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    ready, results, latest = set(), {}, {}
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while len(results) < processes:
            try:
                kind, index, payload = messages.get(timeout=1.0)
            except queue_module.Empty:
                dead = [w.name for w in workers if not w.is_alive() and w.exitcode not in (0, None)]
                if dead or (len(ready) < processes and time.monotonic() > deadline):
                    raise RuntimeError(f"load test processes failed to start or died: {dead or 'startup timeout'}")
                continue
            if kind == "ready":
                ready.add(index)
                if len(ready) == processes:
                    start_value.value = time.time() + 0.2
                    go.set()
            elif kind == "progress":
                latest[index] = payload
                if index == first:
                    _combined_progress(latest, progress)
            elif kind == "result":
                results[index] = LoadResult.from_dict(payload)
            else:
                raise RuntimeError(f"load test process {index} failed: {payload}")
    finally:
        stop.set()
        go.set()
        for worker in workers:
            worker.join(timeout=15)
            if worker.is_alive():
                worker.terminate()
    merged = merge_results([results[i] for i in sorted(results)])
    return merged


def _combined_progress(latest: dict, progress) -> None:
    """Sum the processes' latest figures; p95 is the highest process's p95 (an upper bound)."""
    snaps = list(latest.values())
    combined = {
        "elapsed_s": max(s["elapsed_s"] for s in snaps),
        "vus": sum(s["vus"] for s in snaps), "rps": round(sum(s["rps"] for s in snaps), 1),
        "p95_ms": max((s["p95_ms"] for s in snaps if s["p95_ms"] == s["p95_ms"]), default=float("nan")),
        "requests": sum(s["requests"] for s in snaps), "errors": sum(s["errors"] for s in snaps),
        "dropped": sum(s["dropped"] for s in snaps),
    }
    log.info("elapsed %(elapsed_s)ss vus %(vus)s req/s %(rps)s p95 %(p95_ms)s ms "
             "errors %(errors)s dropped %(dropped)s", combined)
    if progress is not None:
        progress(combined)
