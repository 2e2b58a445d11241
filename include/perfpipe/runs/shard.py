"""``run_shard``: the second step of every run: its credentials resolved, its engine chosen, its shard run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from include.perfpipe.runs.engines import NO_HOOKS, WHOLE_RUN, Engine, PerfpipeEngine, RunHooks, Shard

if TYPE_CHECKING:
    from include.perfpipe.loadtest.result import LoadResult
    from include.perfpipe.loadtest.spec import LoadSpec

CredentialSource = Callable[[str | None], Mapping[str, str]]
"""The credential headers of a spec's ``credentials_conn_id`` (None when it names no connection)."""


def no_credentials(conn_id: str | None) -> Mapping[str, str]:
    """For runs whose spec names no credential."""
    return {}


def run_shard(
    spec: LoadSpec | dict,
    shard: Shard = WHOLE_RUN,
    *,
    credentials: CredentialSource = no_credentials,
    engine: Engine | None = None,
    hooks: RunHooks = NO_HOOKS,
) -> LoadResult:
    """Run ``shard`` of ``spec`` on ``engine`` (default: the in-house one, one event loop per usable core).

    The values of ``spec.secret_headers`` come from ``credentials`` here and go to the engine only; a
    source that does not give exactly those names is refused (``ConfigError``) before any request.
    """
    from include.perfpipe.loadtest.credentials import resolve
    from include.perfpipe.loadtest.spec import LoadSpec

    if isinstance(spec, dict):
        spec = LoadSpec.from_dict(spec)
    secrets = resolve(spec.secret_headers, credentials(spec.credentials_conn_id))
    return (engine or PerfpipeEngine()).run(spec, shard, secrets, hooks)
