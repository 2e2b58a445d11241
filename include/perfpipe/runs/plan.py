"""``plan_run``: the first step of every run: its spec, with the thresholds' abort rules, the allowlist and
the names (never the values) of its credentials."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from include.perfpipe.errors import ConfigError
from include.perfpipe.runs.engine_registry import DEFAULT_ENGINE, ENGINES

if TYPE_CHECKING:
    from include.perfpipe.loadtest.contract import LoadSpec
    from include.perfpipe.validation.thresholds import Thresholds


@dataclass(frozen=True)
class Plan:
    """What a run will do: the checked ``spec`` (JSON-able as ``spec.to_dict()``), the ``thresholds`` it is
    judged by and the name of the ``engine`` that runs it (``runs.engine_registry.ENGINES``)."""

    spec: LoadSpec
    thresholds: Thresholds
    engine: str = DEFAULT_ENGINE


def plan_run(
    profile: str,
    target: str,
    thresholds: Thresholds,
    *,
    scenario: str | Path | None = None,
    overrides: dict | None = None,
    credential_names: Iterable[str] = (),
    credentials_conn_id: str | None = None,
    allowlist: str | list[str] | None = None,
    class_name: str | None = None,
    engine: str | None = None,
    k6_script: str | Path | None = None,
    profile_stages: bool = False,
) -> Plan:
    """Plan a run of ``profile`` against ``target``, before anything runs: bad input raises a one-line
    ``ConfigError``, a target outside ``allowlist`` (None: the configured one) ``TargetNotAllowed``.

    ``overrides`` are ``load_spec``'s (``vus``, ``duration``, ``rate``, ...); the abort rules always come from
    ``thresholds``. ``credential_names`` are the headers ``run_shard`` will resolve, from the connection
    ``credentials_conn_id`` when there is one. ``engine="k6"`` runs ``k6_script`` (compiled here by
    ``k6 inspect``: a script k6 refuses is a ``ConfigError`` with k6's message); the script keeps its own
    scenarios unless ``profile_stages`` asks for the profile's (our engine always runs the profile's).
    """
    from include.perfpipe.loadtest.spec import load_spec

    engine = engine or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise ConfigError(f"engine: unknown engine {engine!r}; known: {sorted(ENGINES)}")
    spec = load_spec(
        profile,
        target,
        scenario,
        {**(overrides or {}), "abort_rules": thresholds.abort_rules()},
        list(credential_names),
        allowlist,
        class_name=class_name,
        credentials_conn_id=credentials_conn_id,
    )
    if engine == "k6":
        from include.perfpipe.k6.engine import k6_spec

        if not k6_script:
            raise ConfigError("k6_script: the k6 engine needs a script", field="k6_script")
        spec = k6_spec(spec, k6_script, overrides, profile_stages=profile_stages)
    elif k6_script:
        raise ConfigError(f"k6_script: given for engine {engine!r}; it needs engine 'k6'", field="k6_script")
    return Plan(spec, thresholds, engine)
