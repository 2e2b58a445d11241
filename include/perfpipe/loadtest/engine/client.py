"""The engine's one interface to what it sends: a ``Client`` builds the generator of one part of a run.

The engine is handed a client (``runs`` hands it ``clients.choice.HttpClients``) and never imports one: a
worker process finds the same client again by its importable name (``module:qualname``), sent over the
worker's stdin with the spec.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from include.perfpipe.loadtest.engine.generator import EngineSpec
from include.perfpipe.loadtest.result import LoadResult


class Part(Protocol):
    """One part of one shard on one event loop (a ``LoadGenerator``, or several side by side)."""

    async def run(self, t0_epoch: float) -> LoadResult: ...


class Client(Protocol):
    """A class (so that a worker process can import it by name) with two static methods."""

    @staticmethod
    def spec_from_dict(data: dict) -> EngineSpec: ...

    @staticmethod
    def generator(
        spec: EngineSpec,
        index: int,
        count: int,
        progress: Callable[[dict], None] | None,
        should_stop: Callable[[], str | bool | None] | None,
        on_abort: Callable[[str], None] | None,
        secret_headers: dict[str, str] | None,
    ) -> Part: ...


def name_of(client: type) -> str:
    """``module:qualname`` of ``client``, as a worker process imports it."""
    return f"{client.__module__}:{client.__qualname__}"


def client_named(name: str) -> Client:
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)
