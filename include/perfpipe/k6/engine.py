"""k6 as an engine of the composition root (``runs.engine_registry.ENGINES["k6"]``).

``k6_spec`` (called by ``plan_run``) preflights the script with ``k6 inspect`` and puts what the engine needs
into the spec's ``k6`` field: the script, the overrides given (``vus``, ``duration``, or the profile's stages
when the run asks for them), k6's consolidated options (thresholds, scenarios, total duration) and the metrics
the reader carries only when named (``carried``: ``runner.named_metrics``).
``K6Engine.run`` then runs one shard of it; the shard's k6 summary export and exit code travel in the
result's ``extra`` (``k6_shard_<index>``) to ``summary.judge_k6``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from include.perfpipe.errors import ConfigError
from include.perfpipe.k6.runner import K6Plan, preflight, run_shard
from include.perfpipe.k6.stages import stage_windows
from include.perfpipe.loadtest.contract import K6Run
from include.perfpipe.loadtest.http.target import check_target, probe_target

if TYPE_CHECKING:
    from include.perfpipe.loadtest.contract import LoadSpec
    from include.perfpipe.loadtest.result import LoadResult
    from include.perfpipe.runs.engines import RunHooks, Shard

SHARD_KEY = "k6_shard_"  # + index: a shard's {"exit_code", "summary"} in LoadResult.extra
# the options the engine and the judge read back (the rest of k6's consolidated options stay out of XCom)
KEPT_OPTIONS = ("thresholds", "scenarios", "summaryTrendStats", "systemTags", "totalDuration", "maxVUs")


def secret_env_name(header: str) -> str:
    """The environment variable a credential header reaches a k6 script as: ``X-Api-Key`` -> ``X_API_KEY``."""
    return "".join(c if c.isalnum() else "_" for c in header).upper()


def k6_spec(
    spec: LoadSpec, script: str | Path, overrides: Mapping | None = None, *, profile_stages: bool = False
) -> LoadSpec:
    """``spec`` with its ``k6`` field: the script (refused with k6's own message if it does not compile)
    and the overrides given: ``vus``/``duration``, or with ``profile_stages`` the spec's own stages (the
    profile's, already scaled to ``duration`` or held at ``vus``), which replace the script's scenarios."""
    overrides = overrides or {}
    if profile_stages:
        vus, duration, stages = profile_stage_overrides(spec)
    else:
        vus, duration, stages = overrides.get("vus"), overrides.get("duration"), ()
    plan = K6Plan(
        Path(script),
        spec.target,
        tuple(spec.allowlist),
        vus=vus,
        duration=duration,
        stages=stages,
        secret_env=tuple(secret_env_name(name) for name in spec.secret_headers),
    )
    checked = preflight(plan)
    options = checked.options
    return replace(
        spec,
        k6=K6Run(
            script=str(plan.script),
            vus=plan.vus,
            duration=plan.duration,
            stages=list(plan.stages),
            options={key: options.get(key) for key in KEPT_OPTIONS},
            carried=list(checked.carried),
        ),
    )


def profile_stage_overrides(spec: LoadSpec) -> tuple[int, None, tuple[tuple[str, int], ...]]:
    """``(vus, duration, stages)`` that make k6 run the spec's closed-model stages, as ``k6 run --vus START
    --stage D:T ...`` does: one ``ramping-vus`` scenario from ``START`` VUs (k6 takes ``vus`` as its
    ``startVUs`` and refuses ``duration`` beside ``stages``)."""
    if spec.model != "closed":
        raise ConfigError(
            f"profile_stages: profile {spec.profile!r} ramps an arrival rate (open model), which k6's --stage "
            "cannot express (it ramps VUs); give the script a ramping-arrival-rate scenario instead",
            field="profile_stages",
        )
    stages = tuple((k6_duration(stage["duration_s"]), round(stage["target"])) for stage in spec.stages)
    return round(spec.start), None, stages


def k6_duration(seconds: float) -> str:
    """A length as k6 reads it: ``90s``, or ``12500ms`` when it is not whole seconds."""
    return f"{seconds:.0f}s" if float(seconds).is_integer() else f"{round(seconds * 1000)}ms"


def plan_of(spec: LoadSpec, shard_count: int) -> K6Plan:
    """The k6 run a spec's ``k6`` field describes, for ``shard_count`` shards."""
    k6 = spec.k6
    return K6Plan(
        Path(k6.script),
        spec.target,
        tuple(spec.allowlist),
        vus=k6.vus,
        duration=k6.duration,
        stages=tuple(k6.stages),
        secret_env=tuple(secret_env_name(name) for name in spec.secret_headers),
        shard_count=shard_count,
        options=k6.options,
        carried=tuple(k6.carried),
    )


@dataclass(frozen=True)
class K6Engine:
    """Runs a shard as one k6 process (k6 uses every core itself: ``processes`` means nothing to it)."""

    processes: int | str = "auto"
    name: ClassVar[str] = "k6"

    def run(self, spec: LoadSpec, shard: Shard, credentials: Mapping[str, str], hooks: RunHooks) -> LoadResult:
        if not spec.k6:
            raise ValueError("engine k6: the spec has no k6 script (plan_run(..., engine='k6', k6_script=...))")
        check_target(spec.target, spec.allowlist)
        probe_target(spec.target)
        part = run_shard(
            plan_of(spec, shard.count),
            shard.index,
            shard.start_at,
            spec=spec.to_dict(),
            secrets={secret_env_name(name): value for name, value in credentials.items()},
            should_stop=hooks.should_stop,
            on_abort=hooks.on_abort,
            progress=hooks.progress,
            abort_rules=spec.abort_rules,
            breaker=spec.circuit_breaker,
        )
        part.result.stages = stage_windows(spec.k6.options)
        part.result.extra[f"{SHARD_KEY}{shard.index}"] = {"exit_code": part.exit_code, "summary": part.summary}
        return part.result
