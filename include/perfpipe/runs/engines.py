"""The one place another load engine plugs in: an ``Engine`` runs one shard of a ``LoadSpec``.

``run_shard`` resolves the credentials and hands them to the engine the plan names; the engine returns a
``LoadResult`` (histograms in a ``MetricsRecorder``), so shards merge, validate, report and store the same
whichever engine ran them. ``ENGINES`` maps the names a plan may carry to the engines' factories.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from include.perfpipe.errors import ConfigError
from include.perfpipe.vocabulary import DEFAULT_ENGINE

if TYPE_CHECKING:
    from include.perfpipe.loadtest.result import LoadResult
    from include.perfpipe.loadtest.spec import LoadSpec


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


@dataclass(frozen=True)
class PerfpipeEngine:
    """The in-house engine: ``processes`` event loops (one worker process each when more than one;
    ``"auto"``: one per usable core, no more than the shard's VUs)."""

    processes: int | str = "auto"
    name: ClassVar[str] = DEFAULT_ENGINE

    def run(self, spec: LoadSpec, shard: Shard, credentials: Mapping[str, str], hooks: RunHooks) -> LoadResult:
        from include.perfpipe.loadtest.runner import run_load_test

        return run_load_test(
            spec,
            self.processes,
            shard.index,
            shard.count,
            shard.start_at,
            hooks.progress,
            should_stop=hooks.should_stop,
            on_abort=hooks.on_abort,
            secret_headers=dict(credentials),
        )


def k6_engine(processes: int | str = "auto") -> Engine:
    """The k6 engine (include/perfpipe/k6/), imported when a plan names it."""
    from include.perfpipe.k6.engine import K6Engine

    return K6Engine(processes)


ENGINES: dict[str, Callable[..., Engine]] = {DEFAULT_ENGINE: PerfpipeEngine, "k6": k6_engine}


def engine_named(name: str | None, *, processes: int | str = "auto") -> Engine:
    """The engine a plan names (None: the in-house one), built with this task's ``processes``."""
    factory = ENGINES.get(name or DEFAULT_ENGINE)
    if factory is None:
        raise ConfigError(f"engine: unknown engine {name!r}; known: {sorted(ENGINES)}")
    return factory(processes=processes)
