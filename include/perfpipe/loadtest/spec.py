"""What a load test does: target, load model and stages, endpoints, limits and abort rules.

``load_spec`` turns a profile (``include/config/profiles.yaml``), an optional scenario file
(``include/config/scenarios/*.yaml``) and overrides (DAG Params, CLI flags) into a ``LoadSpec``:
a plain, JSON-able description that every shard and process rebuilds its work from.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from include.perfpipe.durations import parse_duration
from include.perfpipe.loadtest.target import ALLOWLIST_ENV, check_target, parse_allowlist

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
PROFILES_FILE = CONFIG_DIR / "profiles.yaml"
MODELS = ("closed", "open")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ABORT_METRICS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "mean_ms", "max_ms", "error_rate", "rps", "peak_vus")
OPERATORS = ("<", "<=", ">", ">=")
_ENDPOINT_KEYS = {"name", "method", "path", "url", "class", "weight", "expect_status", "headers", "json", "body", "check"}
_SCENARIO_KEYS = {"think_time", "headers", "endpoints", "timeout"}


def _flag(value, field_name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field_name}: expected true or false, got {value!r}")
    return value


def _number(value, field_name: str, minimum: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field_name}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or number != number or number < minimum:
        raise ValueError(f"{field_name}: expected a number >= {minimum:g}, got {value!r}")
    return number


@dataclass
class Endpoint:
    """One request of the scenario. ``url`` is absolute; ``check`` is an optional ``"module:function"``
    taking the ``httpx.Response`` and returning True when the response is good."""

    name: str
    url: str
    method: str = "GET"
    klass: str = "api"
    weight: float = 1.0
    expect_status: list[int] = field(default_factory=lambda: [200])
    headers: dict[str, str] = field(default_factory=dict)
    json: object = None
    body: str | None = None
    check: str | None = None


@dataclass
class LoadSpec:
    """A complete, JSON-able load test description (``to_dict`` / ``from_dict``).

    closed model: ``start`` and each stage ``target`` are virtual users, ramped linearly;
    open model: they are arrival rates in requests per second, and ``max_vus`` caps in-flight requests.
    """

    target: str
    model: str
    stages: list[dict]  # [{"duration_s": float, "target": float}]
    endpoints: list[Endpoint]
    start: float = 0.0
    max_vus: int = 0
    profile: str | None = None
    think_time_s: tuple[float, float] = (0.0, 0.0)
    timeout_s: float = 30.0
    verify_tls: bool = True
    abort_rules: list[dict] = field(default_factory=list)  # see _abort_rule
    circuit_breaker: dict | None = field(default_factory=lambda: {"error_rate": 0.5, "window_s": 10.0, "min_requests": 50})
    allowlist: list[str] = field(default_factory=list)
    loop_lag_bound_ms: float = 50.0
    cpu_bound_percent: float = 95.0
    progress_interval_s: float = 5.0

    @property
    def duration_s(self) -> float:
        return sum(stage["duration_s"] for stage in self.stages)

    def level_at(self, elapsed_s: float) -> float:
        """VUs (closed) or arrival rate (open) the profile asks for at ``elapsed_s``."""
        level, begin = self.start, 0.0
        for stage in self.stages:
            end = begin + stage["duration_s"]
            if elapsed_s < end:
                return level + (stage["target"] - level) * (elapsed_s - begin) / stage["duration_s"]
            level, begin = stage["target"], end
        return level

    def stage_windows(self) -> list[dict]:
        """``[{"start_s","end_s","kind"}]``: a stage is a hold when its level does not change."""
        windows, level, begin = [], self.start, 0.0
        for stage in self.stages:
            end = begin + stage["duration_s"]
            if stage["duration_s"] > 0:
                kind = "hold" if stage["target"] == level else "ramp"
                windows.append({"start_s": begin, "end_s": end, "kind": kind})
            level, begin = stage["target"], end
        return windows

    def to_dict(self) -> dict:
        data = asdict(self)
        data["think_time_s"] = list(self.think_time_s)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "LoadSpec":
        data = dict(data)
        data["endpoints"] = [Endpoint(**e) for e in data["endpoints"]]
        data["think_time_s"] = tuple(data.get("think_time_s", (0.0, 0.0)))
        return cls(**data)


def load_profiles(path: str | Path | None = None) -> dict:
    path = Path(path or PROFILES_FILE)
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data.get("profiles"), dict):
        raise ValueError(f"{path}: 'profiles' must be a mapping of profile name to profile")
    return data


def _stages(raw, where: str) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}.stages: expected a non-empty list of {{duration, target}}, got {raw!r}")
    stages = []
    for i, stage in enumerate(raw):
        if not isinstance(stage, dict) or set(stage) - {"duration", "target"} or "duration" not in stage:
            raise ValueError(f"{where}.stages[{i}]: expected {{duration, target}}, got {stage!r}")
        stages.append({
            "duration_s": parse_duration(stage["duration"], f"{where}.stages[{i}].duration"),
            "target": _number(stage.get("target", 0), f"{where}.stages[{i}].target"),
        })
    return stages


def _think_time(raw) -> tuple[float, float]:
    if isinstance(raw, (list, tuple)):
        if len(raw) != 2:
            raise ValueError(f"think_time: expected a duration or [min, max], got {raw!r}")
        low, high = (parse_duration(v, "think_time") for v in raw)
        if high < low:
            raise ValueError(f"think_time: max below min in {raw!r}")
        return low, high
    value = parse_duration(raw or 0, "think_time")
    return value, value


def _status_list(raw, where: str) -> list[int]:
    values = raw if isinstance(raw, list) else [raw]
    statuses = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
            raise ValueError(f"{where}.expect_status: expected an HTTP status (100-599) or a list of them, got {raw!r}")
        statuses.append(value)
    return statuses


def _join(target: str, path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    if not path.startswith("/"):
        raise ValueError(f"path: expected '/...' or an absolute URL, got {path!r}")
    return target.rstrip("/") + path


def load_scenario(path: str | Path, target: str) -> tuple[list[Endpoint], dict]:
    """Endpoints and scenario-wide settings (think_time, headers, timeout) of a scenario file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ValueError(f"scenario: cannot read {str(path)!r}: {exc.strerror}") from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), list) or not data["endpoints"]:
        raise ValueError(f"{path}: expected a mapping with a non-empty 'endpoints' list")
    unknown = set(data) - _SCENARIO_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_SCENARIO_KEYS)}")
    endpoints, names = [], set()
    for i, raw in enumerate(data["endpoints"]):
        where = f"{path}: endpoints[{i}]"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected a mapping, got {raw!r}")
        unknown = set(raw) - _ENDPOINT_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_ENDPOINT_KEYS)}")
        name = str(raw.get("name") or f"endpoint_{i}")
        if name in names:
            raise ValueError(f"{where}.name: duplicate endpoint name {name!r}")
        names.add(name)
        method = str(raw.get("method", "GET")).upper()
        if method not in METHODS:
            raise ValueError(f"{where}.method: expected one of {METHODS}, got {raw.get('method')!r}")
        location = raw.get("url") or raw.get("path")
        if not isinstance(location, str):
            raise ValueError(f"{where}: needs 'path' (or an absolute 'url'), got {location!r}")
        try:
            url = _join(target, location)
        except ValueError as exc:
            raise ValueError(f"{where}.{exc}") from None
        klass = str(raw.get("class", "api"))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", klass) or klass == "all":
            raise ValueError(f"{where}.class: expected a name like 'api' (not 'all'), got {klass!r}")
        headers = raw.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError(f"{where}.headers: expected a mapping, got {headers!r}")
        if raw.get("json") is not None and raw.get("body") is not None:
            raise ValueError(f"{where}: give 'json' or 'body', not both")
        check = raw.get("check")
        if check is not None and (not isinstance(check, str) or ":" not in check):
            raise ValueError(f"{where}.check: expected 'module:function', got {check!r}")
        endpoints.append(Endpoint(
            name=name, url=url, method=method, klass=klass,
            weight=_number(raw.get("weight", 1), f"{where}.weight"),
            expect_status=_status_list(raw.get("expect_status", 200), where),
            headers={str(k): str(v) for k, v in headers.items()}, json=raw.get("json"),
            body=None if raw.get("body") is None else str(raw["body"]), check=check,
        ))
    if not any(e.weight > 0 for e in endpoints):
        raise ValueError(f"{path}: at least one endpoint needs a weight > 0")
    return endpoints, data


def _scaled(stages: list[dict], duration_s: float) -> list[dict]:
    total = sum(s["duration_s"] for s in stages)
    return [{"duration_s": s["duration_s"] * duration_s / total, "target": s["target"]} for s in stages]


def load_spec(
    profile: str = "smoke",
    target: str = "http://127.0.0.1:8000",
    scenario: str | Path | None = None,
    overrides: dict | None = None,
    headers: dict | None = None,
    allowlist: str | list[str] | None = None,
    *,
    klass: str | None = None,
    auth: tuple[str, str] | None = None,
    profiles_file: str | Path | None = None,
) -> LoadSpec:
    """Build a ``LoadSpec`` from a profile, a scenario and overrides, and refuse disallowed targets.

    overrides (all optional): ``vus`` (closed: constant VUs; open: ``max_vus``), ``duration`` (a
    constant level's length, or the profile's stages scaled to it), ``rate`` (constant arrival rate:
    open model), ``max_vus``, ``stages`` (``[{duration, target}]``, from ``start``, default 0), ``model``, ``think_time``,
    ``timeout``, ``abort_rules``, ``circuit_breaker``, ``loop_lag_bound_ms``, ``progress_interval``,
    ``verify_tls`` (False accepts self-signed certificates).
    Without a scenario every request is a GET of ``target`` itself, class ``klass`` (default ``api``);
    with one, ``klass`` keeps only that class's endpoints. ``auth`` (user, password) and ``headers``
    are added to every request.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    config = load_profiles(profiles_file)
    profiles, limits = config["profiles"], config.get("limits", {})
    if profile not in profiles:
        raise ValueError(f"profile: unknown profile {profile!r}; known: {sorted(profiles)}")
    raw = profiles[profile]
    if not isinstance(raw, dict) or set(raw) - {"model", "start", "stages", "max_vus"}:
        raise ValueError(f"profiles.{profile}: expected keys model, start, stages, max_vus; got {raw!r}")
    unknown = set(overrides) - {
        "vus", "duration", "rate", "max_vus", "stages", "start", "model", "think_time", "timeout", "abort_rules",
        "circuit_breaker", "loop_lag_bound_ms", "progress_interval", "verify_tls",
    }
    if unknown:
        raise ValueError(f"overrides: unknown field(s) {sorted(unknown)}")
    model = overrides.get("model") or ("open" if "rate" in overrides else raw.get("model", "closed"))
    if model not in MODELS:
        raise ValueError(f"model: expected one of {MODELS}, got {model!r}")
    stages = _stages(overrides.get("stages", raw.get("stages")), f"profiles.{profile}")
    start = _number(overrides.get("start", 0 if "stages" in overrides else raw.get("start", 0)), "start")
    duration = overrides.get("duration")
    duration_s = parse_duration(duration, "duration") if duration is not None else None
    level_key = "rate" if model == "open" else "vus"
    if level_key in overrides:
        level = _number(overrides[level_key], level_key)
        start, stages = level, [{"duration_s": duration_s or sum(s["duration_s"] for s in stages), "target": level}]
    elif duration_s is not None:
        stages = _scaled(stages, duration_s)
    if sum(s["duration_s"] for s in stages) <= 0:
        raise ValueError(f"duration: the test must last longer than 0 s, got stages {stages!r}")

    max_vus = overrides.get("max_vus", overrides.get("vus") if model == "open" else None)
    if model == "open":
        max_vus = int(_number(max_vus if max_vus is not None else raw.get("max_vus", 100), "max_vus", 1))
    else:
        max_vus = int(max([start] + [s["target"] for s in stages]))
    cap_vus = int(limits.get("max_vus", 5000))
    cap_rate = float(limits.get("max_rate", 50000))
    cap_duration = parse_duration(limits.get("max_duration", "2h"), "limits.max_duration")
    if max_vus > cap_vus:
        raise ValueError(f"vus: {max_vus} exceeds the cap of {cap_vus} (limits.max_vus in profiles.yaml)")
    if model == "open":
        peak = max([start] + [s["target"] for s in stages])
        if peak > cap_rate:
            raise ValueError(f"rate: {peak:g} req/s exceeds the cap of {cap_rate:g} (limits.max_rate in profiles.yaml)")
    total = sum(s["duration_s"] for s in stages)
    if total > cap_duration:
        raise ValueError(f"duration: {total:g} s exceeds the cap of {cap_duration:g} s (limits.max_duration)")

    extra_headers = dict(headers or {})
    if auth is not None:
        import httpx

        request = next(httpx.BasicAuth(*auth).auth_flow(httpx.Request("GET", target)))
        extra_headers["Authorization"] = request.headers["Authorization"]
    settings: dict = {}
    if scenario is not None:
        endpoints, settings = load_scenario(scenario, target)
        if klass is not None:
            endpoints = [e for e in endpoints if e.klass == klass]
            if not endpoints:
                raise ValueError(f"class: no endpoint of class {klass!r} in scenario {str(scenario)!r}")
    else:
        import httpx

        path = httpx.URL(target).raw_path.decode("ascii")
        endpoints = [Endpoint(name=f"GET {path}", url=target, klass=klass or "api")]
    for endpoint in endpoints:
        endpoint.headers = {**(settings.get("headers") or {}), **extra_headers, **endpoint.headers}
    if allowlist is None:  # the environment wins over the profiles file, which wins over the default
        allowlist = os.environ.get(ALLOWLIST_ENV) or config.get("target_allowlist")
    allowed = parse_allowlist(allowlist)
    for endpoint in endpoints:
        check_target(endpoint.url, allowed)

    breaker = overrides.get("circuit_breaker", LoadSpec.__dataclass_fields__["circuit_breaker"].default_factory())
    if breaker:
        breaker = {
            "error_rate": _number(breaker.get("error_rate", 0.5), "circuit_breaker.error_rate"),
            "window_s": parse_duration(breaker.get("window_s", breaker.get("window", 10)), "circuit_breaker.window_s"),
            "min_requests": int(_number(breaker.get("min_requests", 50), "circuit_breaker.min_requests")),
        }
    return LoadSpec(
        target=target, model=model, stages=stages, endpoints=endpoints, start=start, max_vus=max_vus,
        profile=profile,
        think_time_s=_think_time(overrides.get("think_time", settings.get("think_time", 0))),
        timeout_s=parse_duration(overrides.get("timeout", settings.get("timeout", 30)), "timeout"),
        verify_tls=_flag(overrides.get("verify_tls", True), "verify_tls"),
        abort_rules=abort_rules(overrides.get("abort_rules", [])), circuit_breaker=breaker or None, allowlist=allowed,
        loop_lag_bound_ms=_number(overrides.get("loop_lag_bound_ms", 50), "loop_lag_bound_ms"),
        progress_interval_s=parse_duration(overrides.get("progress_interval", 5), "progress_interval"),
    )


def abort_rules(rules: list[dict]) -> list[dict]:
    """Checked abort rules; each as validation's ``Thresholds.abort_rules()`` gives them."""
    if not isinstance(rules, list):
        raise ValueError(f"abort_rules: expected a list of rules, got {rules!r}")
    return [_abort_rule(rule, i) for i, rule in enumerate(rules)]


def _abort_rule(raw: dict, i: int) -> dict:
    """Normalise one abort rule as validation's ``Thresholds.abort_rules()`` gives it:
    ``{klass, metric, operator, limit, window_s, delay_s}``; the test passes while ``metric operator
    limit`` holds. ``window_s`` None means everything since the start."""
    where = f"abort_rules[{i}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected {{klass, metric, operator, limit, window_s}}, got {raw!r}")
    metric = raw.get("metric")
    if metric not in ABORT_METRICS:
        raise ValueError(f"{where}.metric: expected one of {ABORT_METRICS}, got {metric!r}")
    operator = raw.get("operator", "<")
    if operator not in OPERATORS:
        raise ValueError(f"{where}.operator: expected one of {OPERATORS}, got {operator!r}")
    window = raw.get("window_s")
    window_s = None if window is None else max(1.0, parse_duration(window, f"{where}.window_s"))
    delay = raw.get("delay_s")
    return {
        "suite": raw.get("suite"), "klass": str(raw.get("klass", "all")), "metric": metric, "operator": operator,
        "limit": _number(raw.get("limit"), f"{where}.limit"), "window_s": window_s,
        "delay_s": parse_duration(delay, f"{where}.delay_s") if delay is not None else (window_s or 0.0),
    }
