"""``load_spec``: a profile (``include/config/profiles.yaml``), an optional scenario file
(``include/config/scenarios/*.yaml``) and overrides (DAG Params, CLI flags) make a ``LoadSpec``, the run
contract (``loadtest.contract``) that every shard and process rebuilds its work from.
"""

from __future__ import annotations

from pathlib import Path

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.contract import DEFAULT_MAX_BODY_BYTES, NO_PAUSE, Endpoint, LoadSpec
from include.perfpipe.loadtest.http.redirects import DEFAULT_MAX_REDIRECTS
from include.perfpipe.loadtest.http.target import check_target, parse_allowlist, resolve_allowlist, split_url
from include.perfpipe.loadtest.profiles import load_profiles
from include.perfpipe.loadtest.run_settings import check_timeout, load_overrides, profile_of
from include.perfpipe.loadtest.scenario_parts import check_journey, load_scenario, scenario_specs


def _scaled(stages: list[dict], duration_s: float) -> list[dict]:
    total = sum(s["duration_s"] for s in stages)
    return [{"duration_s": s["duration_s"] * duration_s / total, "target": s["target"]} for s in stages]


def load_spec(
    profile: str = "smoke",
    target: str = "http://127.0.0.1:8000",
    scenario: str | Path | None = None,
    overrides: dict | None = None,
    secret_headers: list[str] | None = None,
    allowlist: str | list[str] | None = None,
    *,
    class_name: str | None = None,
    credentials_conn_id: str | None = None,
    profiles_file: str | Path | None = None,
) -> LoadSpec:
    """Build a ``LoadSpec`` from a profile, a scenario and overrides, and refuse disallowed targets.

    overrides (all optional): ``vus`` (closed: constant VUs; open: ``max_vus``), ``duration`` (a
    constant level's length, or the profile's stages scaled to it), ``rate`` (constant arrival rate:
    open model), ``max_vus``, ``stages`` (``[{duration, target}]``, from ``start``, default 0), ``model``,
    ``think_time``,
    ``timeout``, ``abort_rules``, ``circuit_breaker``, ``loop_lag_bound_ms``, ``progress_interval``,
    ``verify_tls`` (False accepts self-signed certificates), ``max_body_bytes`` (a body kept for a check),
    ``live_metrics`` (``PORT`` or ``HOST:PORT`` of a Prometheus endpoint while the run goes; off when empty),
    ``max_redirects`` (0 follows none) and ``cookies`` (False: no cookie jar), which also come from the scenario.
    Without a scenario every request is a GET of ``target`` itself, class ``class_name`` (default ``api``);
    with one, ``class_name`` keeps only that class's endpoints. ``secret_headers`` names the credential
    headers (from ``credentials_conn_id`` or the CLI) the worker adds to every request; a header the
    scenario sets itself wins. Their values never enter the spec (``include.perfpipe.loadtest.http.credentials``).
    """
    asked, given = load_overrides(overrides or {})
    config = load_profiles(profiles_file)
    limits = config["limits"]
    chosen = profile_of(config["profiles"], profile, config["document"])
    model = asked.model or ("open" if asked.rate is not None else chosen.model)
    stages = [stage.level() for stage in asked.stages or chosen.stages]
    start = (asked.start or 0.0) if given & {"start", "stages"} else chosen.start
    level = asked.rate if model == "open" else asked.vus
    if level is not None:
        start, stages = level, [{"duration_s": asked.duration or sum(s["duration_s"] for s in stages), "target": level}]
    elif asked.duration is not None:
        stages = _scaled(stages, asked.duration)
    if sum(s["duration_s"] for s in stages) <= 0:
        got = f"{overrides['duration']!r}" if "duration" in given else f"stages {stages!r}"
        raise ConfigError(f"duration: the test must last longer than 0 s, got {got}")

    if model == "open":
        in_flight = next(v for v in (asked.max_vus, asked.vus, chosen.max_vus) if v is not None)
        if in_flight < 1:
            raise ConfigError(f"max_vus: expected a number >= 1, got {in_flight:g}")
        max_vus = int(in_flight)
    else:
        max_vus = int(max([start] + [s["target"] for s in stages]))
    cap_vus, cap_rate, cap_duration = limits.max_vus, limits.max_rate, limits.max_duration_s
    if max_vus > cap_vus:
        raise ConfigError(f"vus: {max_vus} exceeds the cap of {cap_vus} (limits.max_vus in profiles.yaml)")
    if model == "open":
        peak = max([start] + [s["target"] for s in stages])
        if peak > cap_rate:
            raise ConfigError(
                f"rate: {peak:g} req/s exceeds the cap of {cap_rate:g} (limits.max_rate in profiles.yaml)"
            )
    total = sum(s["duration_s"] for s in stages)
    if total > cap_duration:
        raise ConfigError(f"duration: {total:g} s exceeds the cap of {cap_duration:g} s (limits.max_duration)")

    settings: dict = {}
    journey = None
    named: list[dict] = []
    if scenario is not None:
        endpoints, journey, settings = load_scenario(scenario, target)
        if not endpoints and journey is None:  # named scenarios: each brings its own executor
            load = sorted({"vus", "rate", "stages", "model", "start", "duration"} & given)
            if load or class_name is not None:
                raise ConfigError(
                    f"{scenario}: its scenarios set their own load; {load or ['class']} cannot override it"
                )
            named = scenario_specs(scenario, target, {"vus": cap_vus, "rate": cap_rate, "duration": cap_duration})
        if class_name is not None and journey is not None:
            raise ConfigError(
                f"class: {class_name!r} filters a flat endpoints list; "
                f"the journey of {str(scenario)!r} runs all its steps"
            )
        if class_name is not None:
            endpoints = [e for e in endpoints if e.class_name == class_name]
            if not endpoints:
                raise ConfigError(f"class: no endpoint of class {class_name!r} in scenario {str(scenario)!r}")
    else:
        import httpx

        split_url(target)
        path = httpx.URL(target).raw_path.decode("ascii")
        endpoints = [Endpoint(name=f"GET {path}", url=target, class_name=class_name or "api")]
    if allowlist is None:
        allowed = resolve_allowlist(profiles=config.get("target_allowlist"))
    else:
        allowed = parse_allowlist(allowlist)
    think = asked.think_time if "think_time" in given else settings.get("think_time") or NO_PAUSE
    if journey is not None and "think_time" in given:
        journey = journey.model_copy(update={"think_time": think})
    if journey is not None:
        check_journey(journey, str(scenario), target)
    spec = LoadSpec(
        target=target,
        model="scenarios" if named else model,
        stages=stages,
        endpoints=endpoints,
        start=start,
        max_vus=max_vus,
        profile=profile,
        think_time=think,
        journey=journey,
        timeout_s=asked.timeout if asked.timeout is not None else _scenario_timeout(settings.get("timeout"), scenario),
        max_body_bytes=int(asked.max_body_bytes or DEFAULT_MAX_BODY_BYTES),
        verify_tls=asked.verify_tls,
        max_redirects=_first(asked.max_redirects, settings.get("max_redirects"), DEFAULT_MAX_REDIRECTS),
        cookies=_first(asked.cookies, settings.get("cookies"), True),
        abort_rules=list(asked.abort_rules),  # normalised by the contract (NormalisedRule)
        circuit_breaker=asked.circuit_breaker,
        allowlist=allowed,
        loop_lag_bound_ms=asked.loop_lag_bound_ms,
        progress_interval_s=asked.progress_interval,
        credentials_conn_id=credentials_conn_id,
        secret_headers=list(secret_headers or []),
        live_metrics=_live_metrics(asked.live_metrics),
        scenarios=named,
    )
    for url in spec.urls():
        check_target(url, allowed)
    return spec


def _live_metrics(raw) -> str | None:
    """``HOST:PORT`` of the live Prometheus endpoint, or None (off: unset, empty or false)."""
    if raw in (None, "", False):
        return None
    from include.perfpipe.loadtest.engine.live_metrics import parse_address

    host, port = parse_address(raw)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _first(*values):
    return next(value for value in values if value is not None)


def _scenario_timeout(timeout: float | None, scenario: str | Path | None) -> float:
    """The scenario's ``timeout`` (default 30 s), within what a run allows."""
    if timeout is None:
        return 30.0
    try:
        return check_timeout(timeout)
    except ValueError as exc:
        raise ConfigError(f"{scenario}: timeout: {exc}, got {timeout:g} s") from None
