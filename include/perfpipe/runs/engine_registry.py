"""The engines a plan may name (``plan["engine"]``, default ``perfpipe``) and how each is built for a task.

``ENGINES`` maps a name to a factory taking ``processes``; ``engine_named`` builds the one a plan names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from include.perfpipe.errors import ConfigError
from include.perfpipe.runs.engines import Engine, RunHooks, Shard
from include.perfpipe.vocabulary import DEFAULT_ENGINE

if TYPE_CHECKING:
    from include.perfpipe.loadtest.contract import LoadSpec
    from include.perfpipe.loadtest.result import LoadResult


@dataclass(frozen=True)
class PerfpipeEngine:
    """The in-house engine: ``processes`` event loops (one worker process each when more than one;
    ``"auto"``: one per usable core, no more than the shard's VUs)."""

    processes: int | str = "auto"
    name: ClassVar[str] = DEFAULT_ENGINE

    def run(self, spec: LoadSpec, shard: Shard, credentials: Mapping[str, str], hooks: RunHooks) -> LoadResult:
        from include.perfpipe.loadtest.run import run_load_test

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
