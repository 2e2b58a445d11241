"""The one interface another load engine plugs into: an ``Engine`` runs one ``Shard`` of a ``LoadSpec``.

``run_shard`` resolves the credentials and hands them to the engine the plan names; the engine returns a
``LoadResult`` (histograms in a ``MetricsRecorder``), so shards merge, validate, report and store the same
whichever engine ran them. The engines themselves are named in ``engine_registry.ENGINES``: an engine
imports this module, and this module imports no engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from include.perfpipe.loadtest.contract import LoadSpec
    from include.perfpipe.loadtest.result import LoadResult


@dataclass(frozen=True)
class Shard:
    """This part of the run: ``index`` of ``count`` shards, all starting at ``start_at`` (epoch seconds;
    None: as soon as this one is ready)."""

    index: int = 0
    count: int = 1
    start_at: float | None = None

    @classmethod
    def of(cls, slot: Mapping) -> Shard:
        """From a plan's ``shards[i]`` (``payloads.ShardSlot``)."""
        return cls(slot["index"], slot["count"], slot.get("start_at"))


@dataclass(frozen=True)
class RunHooks:
    """How a running shard talks to the rest of the run (all optional).

    ``progress(snapshot)``: ``{elapsed_s, vus, rps, p95_ms, requests, errors, dropped}`` every few seconds;
    ``should_stop()``: polled about every 0.1-1 s and never allowed to block, a truthy answer stops the shard
    (a string becomes its ``abort_reason``); ``on_abort(reason)``: this shard's own abort rules stopped it.
    """

    progress: Callable[[dict], None] | None = None
    should_stop: Callable[[], str | bool | None] | None = None
    on_abort: Callable[[str], None] | None = None


WHOLE_RUN = Shard()  # one shard: the whole run, starting as soon as it is ready
NO_HOOKS = RunHooks()


class Engine(Protocol):
    """Runs one shard of a load test.

    ``credentials`` are the values of exactly ``spec.secret_headers`` (already resolved): headers for the
    target's own origin, never to be logged, written or put in argv. They may reach a child process only
    through a channel no other process can read: the in-house workers' stdin pipe, or k6's own environment
    (its only way to fill ``__ENV``; ``/proc/PID/environ`` is readable by the same user alone). The engine refuses a
    target outside ``spec.allowlist`` before any request (``loadtest.http.target.check_target``) and returns this
    shard's ``LoadResult``; bad input raises a ``ConfigError`` (one line), an unreachable target
    ``TargetUnreachable``.
    """

    name: ClassVar[str]

    def run(self, spec: LoadSpec, shard: Shard, credentials: Mapping[str, str], hooks: RunHooks) -> LoadResult: ...
