"""``run_shard``: the second step of every run: its credentials resolved, its engine chosen, its shard run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from include.perfpipe.runs.engine_registry import PerfpipeEngine
from include.perfpipe.runs.engines import NO_HOOKS, WHOLE_RUN, Engine, RunHooks, Shard

if TYPE_CHECKING:
    from include.perfpipe.loadtest.contract import LoadSpec
    from include.perfpipe.loadtest.result import LoadResult

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
    allowlist: str | list[str] | None = None,
) -> LoadResult:
    """Run ``shard`` of ``spec`` on ``engine`` (default: the in-house one, one event loop per usable core).

    The values of ``spec.secret_headers`` come from ``credentials`` here and go to the engine only; a
    source that does not give exactly those names is refused (``ConfigError``) before any request.
    ``allowlist`` is the hosts this worker allows, from its own configuration: a spec that travelled (an XCom)
    could have had its target and its allowlist edited together, so the spec's own is replaced and every URL
    checked (``TargetNotAllowed``) before any request. None keeps the spec's (a run planned in this process).
    """
    from dataclasses import replace

    from include.perfpipe.loadtest.contract import LoadSpec
    from include.perfpipe.loadtest.http.credentials import resolve
    from include.perfpipe.loadtest.http.target import check_target, parse_allowlist

    if isinstance(spec, dict):
        spec = LoadSpec.from_dict(spec)
    if allowlist is not None:
        spec = replace(spec, allowlist=parse_allowlist(allowlist))
        for url in spec.urls():
            check_target(url, spec.allowlist)
    secrets = resolve(spec.secret_headers, credentials(spec.credentials_conn_id))
    return (engine or PerfpipeEngine()).run(spec, shard, secrets, hooks)
