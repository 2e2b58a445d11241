"""``scenario from-openapi``: a starting journey that calls every operation of an OpenAPI 3 description
once per iteration, with the spec's examples or values generated from its schemas.

Calls are ordered so that what one creates feeds the next: a response ``link``, or an id name (``POST
/orders`` answering 201 gives ``order_id``, which ``GET /orders/{order_id}`` and a body field ``order_id``
then use). A login operation (a password field) runs once in ``setup`` with users from a credentials
feeder, and its token goes on every later call. Operations it cannot fill are left out and listed.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import yaml

from include.perfpipe.config_files import read_text
from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.http.credentials import looks_secret
from include.perfpipe.recording.correlation import singular, variable_name
from include.perfpipe.recording.credentials import FEEDER
from include.perfpipe.recording.schema_values import Resolver, Unfillable, object_value, properties, sample
from include.perfpipe.recording.writer import Draft, DraftStep, step_names

METHODS = ("get", "post", "put", "patch", "delete")
_PASSWORD = re.compile(r"pass(word)?|passwd|pwd", re.IGNORECASE)
_LOGIN_PATH = re.compile(r"/(auth/)?(login|signin|sign-in|token|sessions?)/?$", re.IGNORECASE)
_PROBES = {"health", "healthz", "livez", "readyz", "ready", "ping"}  # the health threshold class
_TOKEN_KEYS = ("access_token", "token", "accessToken", "jwt", "id_token")


@dataclass
class Operation:
    index: int
    method: str
    path: str  # as in the spec, with {params}
    spec: dict
    parameters: list[dict]
    produces: dict[str, tuple[str, str]] = field(default_factory=dict)  # variable -> (JSON path, why)
    consumes: set[str] = field(default_factory=set)
    secrets: list[str] = field(default_factory=list)  # feeder columns it sends (API keys, passwords)
    step: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


def convert(source: str, output: str | Path, credentials: str | None = None) -> tuple[Draft, list[str]]:
    """The draft and the operations left out (``"METHOD /path: why"``)."""
    spec = _load(source)
    output = Path(output)
    resolver = Resolver(spec)
    prefix = _base_path(spec)
    operations = _operations(spec, resolver)
    login = next((op for op in operations if _is_login(op, resolver)), None)
    _producers(operations, resolver)
    left_out: dict[int, tuple[Operation, str]] = {}
    while True:  # an operation left out produces nothing: fill again without what it would have given
        candidates = [op for op in operations if op.index not in left_out and op is not login]
        produced = {var: op for op in reversed(candidates) for var in op.produces}  # the first producer wins
        unfilled, steps = _fill_all(candidates, resolver, prefix, produced)
        if not unfilled:
            break
        left_out.update((op.index, (op, why)) for op, why in unfilled)
    unfilled = [f"{op.label}: {why}" for _, (op, why) in sorted(left_out.items())]
    columns: list[str] = []
    if login is not None:
        try:
            columns = _fill_login(login, resolver, prefix)
        except Unfillable as exc:
            unfilled.insert(0, f"{login.label}: {exc}")
            login = None
    steps = _ordered(steps, produced)
    calls = ([login] if login else []) + steps
    names = step_names([(op.method.upper(), op.step["path"].removeprefix(prefix)) for op in calls])
    for op, name in zip(calls, names, strict=True):
        op.step = {"name": name, **op.step}
    kept_vars = {var for op in steps for var in op.consumes}
    draft = Draft(notes=_notes(spec, source, unfilled), setup=[], steps=[])
    for op in steps:
        extract = {var: path for var, (path, _) in op.produces.items() if var in kept_vars}
        if extract:
            op.step["extract"] = extract
            op.step["checks"] = [{"json": path} for path in extract.values()]
            op.notes += [f"{var} <- {op.produces[var][0]}: {op.produces[var][1]}" for var in extract]
        draft.steps.append(
            DraftStep(op.step, [f"{op.label} ({op.spec.get('operationId', 'no operationId')})", *op.notes])
        )
    columns = list(dict.fromkeys([*columns, *(c for op in steps for c in op.secrets)]))
    if login is not None:
        draft.setup.append(DraftStep(login.step, [f"{login.label}: the login, once per VU", *login.notes]))
        draft.journey_headers = {"Authorization": "Bearer {{ token }}"}
    if columns:
        feeder_file, rows = _credentials_file(credentials, output, columns)
        draft.feeders = {FEEDER: {"file": feeder_file, "strategy": "circular", "per": "vu"}}
        if rows is not None:
            draft.feeder_rows = {feeder_file: (columns, rows)}
            draft.notes.append(f"Fill {feeder_file} with real credentials ({', '.join(columns)}), a row per user.")
    return draft, unfilled


# -- reading the spec ---------------------------------------------------------------------------------
def _load(source: str) -> dict:
    import httpx

    if source.startswith(("http://", "https://")):
        try:
            text = httpx.get(source, timeout=30, follow_redirects=True).raise_for_status().text
        except httpx.HTTPError as exc:
            raise ConfigError(f"cannot fetch it: {type(exc).__name__}", file=source) from None
    else:
        text = read_text(source)
    try:
        spec = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        raise ConfigError("not JSON or YAML", file=source) from None
    except RecursionError:  # both parsers recurse per level: a hostile file nested ~1,000 deep ends the stack
        raise ConfigError("nested too deeply", file=source) from None
    if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3."):
        raise ConfigError("openapi: expected an OpenAPI 3.x description (Swagger 2 is not read)", file=source)
    if not isinstance(spec.get("paths"), dict) or not spec["paths"]:
        raise ConfigError("paths: expected at least one path", file=source)
    return spec


def _base_path(spec: dict) -> str:
    servers = spec.get("servers") or [{}]
    url = str(servers[0].get("url", "/"))
    for name, variable in (servers[0].get("variables") or {}).items():
        url = url.replace("{" + name + "}", str(variable.get("default", "")))
    return urlsplit(url).path.rstrip("/")


def _operations(spec: dict, resolve: Resolver) -> list[Operation]:
    operations = []
    for path, item in spec["paths"].items():
        item = resolve(item) if isinstance(item, dict) else {}
        shared = item.get("parameters", [])
        for method in METHODS:
            if isinstance(item.get(method), dict):
                own = item[method].get("parameters", [])
                merged = {(p["name"], p["in"]): p for p in (resolve(x) for x in [*shared, *own]) if "name" in p}
                operations.append(Operation(len(operations), method, path, item[method], list(merged.values())))
    return operations


def _is_login(op: Operation, resolve: Resolver) -> bool:
    if op.method != "post":
        return False
    fields = properties(_body_schema(op, resolve)[1], resolve)
    return bool(_LOGIN_PATH.search(op.path)) or any(_PASSWORD.search(name) for name in fields)


def _success(op: Operation) -> tuple[int, dict]:
    """The first 2xx status the spec declares (200 when it declares none) and its response."""
    for code, response in op.spec.get("responses", {}).items():
        if str(code).startswith("2"):
            return (int(code) if str(code).isdigit() else 200), response
    return 200, {}


def _response_schema(op: Operation, resolve: Resolver) -> dict | None:
    _, response = _success(op)
    content = resolve(response or {}).get("content", {})
    media = content.get("application/json") or next((v for k, v in content.items() if "json" in k), None)
    return resolve(media.get("schema", {})) if media else None


def _producers(operations: list[Operation], resolve: Resolver) -> None:
    """What each call gives later ones: its response links, or the id a POST that creates answers."""
    by_id = {op.spec.get("operationId"): op for op in operations}
    for op in operations:
        for response in op.spec.get("responses", {}).values():
            for link in (resolve(response or {}).get("links") or {}).values():
                for param, expression in (resolve(link).get("parameters") or {}).items():
                    if isinstance(expression, str) and expression.startswith("$response.body#/"):
                        pointer = expression.removeprefix("$response.body#/").split("/")
                        path = "$" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in pointer)
                        target = by_id.get(link.get("operationId"))
                        why = f"the link to {target.label if target else link.get('operationId')}"
                        op.produces[variable_name(param)] = (path, why)
        status, _ = _success(op)
        schema = _response_schema(op, resolve)
        declared = properties(schema, resolve) if schema is not None else {}
        literal = [s for s in op.path.split("/") if s and "{" not in s]
        if op.method == "post" and literal and op.path.rstrip("/").split("/")[-1] == literal[-1]:
            var = variable_name(singular(literal[-1]) + "_id")
            if "id" in declared:
                op.produces.setdefault(var, ("$.id", "the id of what it created"))
            elif status == 201 and not declared:
                op.produces.setdefault(var, ("$.id", "assumed: 201 Created, and the spec names no response fields"))


# -- filling a call -----------------------------------------------------------------------------------
def _fill_all(operations: list[Operation], resolve: Resolver, prefix: str, produced: dict[str, Operation]):
    """(the operations left out with why, the filled ones)."""
    unfilled, filled = [], []
    for op in operations:
        op.consumes, op.notes, op.secrets = set(), [], []
        try:
            _fill(op, resolve, prefix, {var for var, producer in produced.items() if producer is not op})
            filled.append(op)
        except Unfillable as exc:
            unfilled.append((op, str(exc)))
    return unfilled, filled


def _fill(op: Operation, resolve: Resolver, prefix: str, available: set[str]) -> None:
    generated: list[str] = []

    def value_of(name: str, node: dict):
        var = variable_name(name)
        if var in available and var not in op.produces:
            op.consumes.add(var)
            return "{{ " + var + " }}"
        if looks_secret(name):  # a key or password: the user's, from the feeder, never fixed in the file
            op.secrets.append(var)
            return "{{ " + f"{FEEDER}.{var}" + " }}"
        generated.append(name)
        return sample(node, resolve, name)

    path = op.path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for param in op.parameters:
        name, where, required = param["name"], param["in"], param.get("required", False)
        if where == "header" and name.lower() == "authorization":
            continue  # the login's token, on every call
        if not required and "example" not in param and not param.get("examples"):
            continue
        if where == "cookie":
            raise Unfillable(f"the required cookie {name!r} (a VU's cookies come from the responses it gets)")
        if (
            where == "path"
            and _is_id(name)
            and variable_name(name) not in available
            and not _has_example(param, resolve)
        ):
            raise Unfillable(f"no call creates its {name} and the spec gives no example")
        value = value_of(name, param)
        if where == "path":
            path = path.replace("{" + name + "}", str(value))
        elif where == "query":
            query.append((name, _text(value)))
        elif where == "header":
            headers[name] = _text(value)
    op.step = {"method": op.method.upper()} if op.method != "get" else {}
    op.step["path"] = prefix + path + _query(query)
    if path.rstrip("/").rsplit("/", 1)[-1] in _PROBES:
        op.step["class"] = "health"
    if headers:
        op.step["headers"] = headers
    media, schema, body = _body_schema(op, resolve)
    if media is not None:
        if media != "application/json" and not media.endswith("+json"):
            raise Unfillable(f"its request body is {media} (only JSON bodies are generated)")
        given = body.get("example", next(iter((body.get("examples") or {}).values()), {}).get("value"))
        op.step["json"] = (
            _templated(given, available, op) if given is not None else object_value(schema, resolve, value_of)
        )
    status, _ = _success(op)
    if status != 200:
        op.step["expect_status"] = status
    if generated:
        op.notes.append("generated from the schema: " + ", ".join(sorted(set(generated))))
    if op.consumes:
        op.notes.append("uses " + ", ".join(sorted(op.consumes)) + " from an earlier call")


def _is_id(name: str) -> bool:
    return re.sub(r"[^a-z]", "", name.lower()).endswith("id")


def _has_example(param: dict, resolve: Resolver) -> bool:
    schema = resolve(param.get("schema", {}))
    return any(k in param for k in ("example", "examples")) or any(
        k in schema for k in ("example", "examples", "default", "enum")
    )


def _fill_login(op: Operation, resolve: Resolver, prefix: str) -> list[str]:
    media, schema, _ = _body_schema(op, resolve)
    if media is None or "json" not in media:
        raise Unfillable("a login whose body is not JSON")
    fields = properties(schema, resolve)
    required = set(resolve(schema).get("required", fields))
    columns = [name for name in fields if name in required or _PASSWORD.search(name)]
    op.step = {
        "method": "POST",
        "path": prefix + op.path,
        "json": {c: "{{ " + f"{FEEDER}.{c}" + " }}" for c in columns},
    }
    response = _response_schema(op, resolve) or {}
    declared = properties(response, resolve)
    token = next((k for k in _TOKEN_KEYS if k in declared), None)
    op.step["extract"] = {"token": f"$.{token or 'token'}"}
    op.step["checks"] = [{"json": f"$.{token or 'token'}"}]
    status, _ = _success(op)
    if status != 200:
        op.step["expect_status"] = status
    op.notes.append(
        f"token <- $.{token}"
        if token
        else "token <- $.token: assumed (the spec names no token field; change it if yours differs)"
    )
    return columns


def _body_schema(op: Operation, resolve: Resolver) -> tuple[str | None, dict, dict]:
    body = resolve(op.spec.get("requestBody") or {})
    content = body.get("content") or {}
    if not content:
        return None, {}, {}
    media = "application/json" if "application/json" in content else next(iter(content))
    return media, resolve(content[media].get("schema", {})), content[media]


def _templated(example, available: set[str], op: Operation):
    if isinstance(example, dict):
        out = {}
        for key, value in example.items():
            var = variable_name(key)
            if var in available and not isinstance(value, (dict, list)):
                op.consumes.add(var)
                out[key] = "{{ " + var + " }}"
            else:
                out[key] = _templated(value, available, op)
        return out
    return example


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _query(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "?" + "&".join(f"{k}={v}" if "{{" in v else urlencode({k: v}) for k, v in pairs)


# -- order and output ---------------------------------------------------------------------------------
def _ordered(steps: list[Operation], produced: dict[str, Operation]) -> list[Operation]:
    """Producers before their consumers, else the spec's order; deletions last."""
    placed: list[Operation] = []
    waiting = sorted(steps, key=lambda op: (op.method == "delete", op.index))
    while waiting:
        ready = next(
            (op for op in waiting if all(produced[v] in placed or produced[v] not in steps for v in op.consumes)),
            waiting[0],  # a cycle: the spec's order
        )
        waiting.remove(ready)
        placed.append(ready)
    return placed


def _credentials_file(credentials: str | None, output: Path, columns: list[str]):
    """(the feeder's file as the scenario names it, the rows to write or None when the user gave a file)."""
    if credentials is None:
        return f"{output.stem}.credentials.csv", [[f"example-{column}" for column in columns]]
    path = Path(credentials)
    try:
        header = next(csv.reader(path.read_text(encoding="utf-8").splitlines()), [])
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror}", file=path, field="--credentials") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise ConfigError(
            f"the calls send {columns}; the file's columns lack {missing}",
            file=path,
            field="--credentials",
        )
    return os.path.relpath(path.resolve(), output.resolve().parent), None


def _notes(spec: dict, source: str, unfilled: list[str]) -> list[str]:
    info = spec.get("info") or {}
    notes = [
        f"From the OpenAPI description {Path(source).name if '://' not in source else source} "
        f"({info.get('title', 'untitled')} {info.get('version', '')}) by `python -m include.perfpipe scenario "
        "from-openapi` (docs/scenarios.md, *From an OpenAPI description*).",
        "A starting point: every operation once per iteration, with the spec's examples or values its schemas "
        "allow, ordered so that created ids feed later calls.",
    ]
    notes += [f"Left out (could not fill): {line}." for line in unfilled]
    return notes
