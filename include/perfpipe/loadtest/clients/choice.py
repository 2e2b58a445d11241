"""Which HTTP client runs a spec: its named scenarios side by side, a journey, or flat endpoints.

``HttpClients`` is what the engine is handed (its ``Client`` interface, ``loadtest.engine.client``); a worker
process finds it again by its importable name. The engine imports no client.
"""

from __future__ import annotations

from include.perfpipe.loadtest.clients.endpoints import FlatEndpoints
from include.perfpipe.loadtest.clients.journeys import journey_generator
from include.perfpipe.loadtest.clients.scenarios import NamedScenarios
from include.perfpipe.loadtest.contract import LoadSpec


class HttpClients:
    """The engine's HTTP client: builds one part's generator for a ``LoadSpec``."""

    @staticmethod
    def spec_from_dict(data: dict) -> LoadSpec:
        return LoadSpec.from_dict(data)

    @staticmethod
    def generator(
        spec: LoadSpec,
        index: int = 0,
        count: int = 1,
        progress=None,
        should_stop=None,
        on_abort=None,
        secret_headers: dict[str, str] | None = None,
    ):
        """Part ``index`` of ``count`` of ``spec``: anything with ``async run(t0_epoch) -> LoadResult``."""
        hooks = (progress, should_stop, on_abort)
        if spec.scenarios:
            return NamedScenarios(spec, HttpClients.generator, index, count, *hooks, secret_headers)
        if spec.journey is not None:
            return journey_generator(spec, index, count, *hooks, secret_headers)
        return FlatEndpoints(spec, index, count, *hooks, secret_headers=secret_headers)
