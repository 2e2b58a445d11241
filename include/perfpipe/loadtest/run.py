"""Run an HTTP load test: check the spec, the target and the endpoints before a single request, then the
engine (``engine.runner``) with the HTTP clients (``clients.choice.HttpClients``). ``runs.engines``'
in-house engine calls this; nothing in the engine or the clients does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.clients.choice import HttpClients
from include.perfpipe.loadtest.clients.endpoints import FlatEndpoint
from include.perfpipe.loadtest.contract import LoadSpec
from include.perfpipe.loadtest.engine.live_metrics import LIVE_INTERVAL_S, serving
from include.perfpipe.loadtest.engine.runner import resolve_processes, run_shard_parts
from include.perfpipe.loadtest.http.credentials import for_origin, resolve
from include.perfpipe.loadtest.http.target import check_target, probe_target, split_url
from include.perfpipe.loadtest.result import LoadResult


def run_load_test(
    spec: LoadSpec | dict,
    processes: int | str = "auto",
    shard_index: int = 0,
    shard_count: int = 1,
    start_at: float | None = None,
    progress: Callable[[dict], None] | None = None,
    *,
    should_stop: Callable[[], str | bool | None] | None = None,
    on_abort: Callable[[str], None] | None = None,
    secret_headers: dict[str, str] | None = None,
) -> LoadResult:
    """Run this shard's part of ``spec`` and return its ``LoadResult``.

    ``processes``: event loops (one worker process each when more than one); ``"auto"`` is one per core
    this process may use (``os.sched_getaffinity``). The parent ends workers still running at the run's
    deadline (start + duration + drain + ``RUN_GRACE_S``) and reports them in ``health.reasons``.
    ``start_at`` (epoch seconds) is the run's common start; None means as soon as every process is
    ready. Disallowed targets raise ``TargetNotAllowed``, unreachable ones ``TargetUnreachable`` and
    headers with CR or LF ``ValueError``, before a single request. ``progress`` gets ``{elapsed_s, vus,
    rps, p95_ms, requests, errors, dropped}`` every ``spec.progress_interval_s``.

    The other shards of the run reach this one through two hooks (``store.AbortSignal`` provides
    both): ``should_stop()``, polled every 0.1 s (every second by the parent of several processes)
    and so never allowed to block, stops every process once truthy, and a string becomes their
    ``abort_reason``; ``on_abort(reason)`` is called when this shard's own abort rules stop it.

    ``secret_headers`` holds the values of ``spec.secret_headers`` (exactly those names): credentials,
    handed to worker processes over their stdin pipe, never through argv, the environment or a file.
    """
    if isinstance(spec, dict):
        spec = LoadSpec.from_dict(spec)
    if not isinstance(shard_count, int) or shard_count < 1:
        raise ConfigError(f"shard_count: expected an integer >= 1, got {shard_count!r}")
    processes = resolve_processes(processes, peak_vus(spec) // shard_count)
    if not isinstance(shard_index, int) or not 0 <= shard_index < shard_count:
        raise ConfigError(f"shard_index: expected 0 <= shard_index < {shard_count}, got {shard_index!r}")
    for url in spec.urls():
        check_target(url, spec.allowlist)
    secret_headers = resolve(spec.secret_headers, secret_headers)
    for endpoint in spec.endpoints:  # refuses bad headers and unimportable checks before any request
        own = for_origin(secret_headers, endpoint.url, spec.target)
        FlatEndpoint(endpoint, spec.verify_tls, spec.max_body_bytes, own)
    for url in {split_url(url): url for url in spec.urls()}.values():
        probe_target(url)
    if spec.live_metrics:
        spec = replace(spec, progress_interval_s=min(spec.progress_interval_s, LIVE_INTERVAL_S))
    with serving(spec.live_metrics, shard_index) as live:
        if live is not None:
            progress = _both(live, progress)
        return run_shard_parts(
            spec,
            HttpClients,
            processes,
            shard_index,
            shard_count,
            start_at,
            progress,
            should_stop,
            on_abort,
            secret_headers,
        )


def _both(first: Callable[[dict], None], then: Callable[[dict], None] | None) -> Callable[[dict], None]:
    def progress(snapshot: dict) -> None:
        first(snapshot)
        if then is not None:
            then(snapshot)

    return progress


def peak_vus(spec: LoadSpec) -> int:
    """The most VUs the run holds at once: its scenarios' together, else the spec's own."""
    return sum(part.max_vus for part in spec.scenarios) if spec.scenarios else spec.max_vus
