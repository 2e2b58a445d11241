"""Values an OpenAPI schema allows: its examples first, else ``default``, ``enum``, ``const``, or one made
from the type and its bounds (``minimum``, ``minLength``, ``format``, a simple ``pattern``); local ``$ref``,
``allOf`` and ``anyOf``/``oneOf`` are followed."""

from __future__ import annotations

import re

_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "email": "user@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
}


class Unfillable(Exception):
    """An operation needs a value this spec gives no way to make."""


class Resolver:
    """Follows local ``$ref``s: ``resolve(node)`` is the node itself or what it refers to."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec

    def __call__(self, node, depth: int = 0):
        """``node`` with a local ``$ref`` followed (``#/components/...``)."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/") or depth > 20:
                raise Unfillable(f"a $ref this tool does not follow ({ref!r})")
            target = self.spec
            for part in ref[2:].split("/"):
                target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, dict) else None
            if target is None:
                raise Unfillable(f"$ref {ref!r} names nothing in the spec")
            node, depth = target, depth + 1
        return node


def properties(schema, resolve: Resolver) -> dict:
    schema = merged(resolve(schema or {}), resolve)
    return {k: resolve(v) for k, v in (schema.get("properties") or {}).items()}


def merged(schema: dict, resolve: Resolver) -> dict:
    """allOf merged; anyOf/oneOf: the first alternative that is not null."""
    if "allOf" in schema:
        combined: dict = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = merged(resolve(part), resolve)
            combined["properties"] = {**combined.get("properties", {}), **part.get("properties", {})}
            combined["required"] = [*combined.get("required", []), *part.get("required", [])]
            combined.setdefault("type", part.get("type"))
        return combined
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [resolve(o) for o in schema[key]]
            chosen = next((o for o in options if o.get("type") != "null"), options[0] if options else {})
            return merged({**{k: v for k, v in schema.items() if k != key}, **chosen}, resolve)
    return schema


def object_value(schema: dict, resolve: Resolver, value_of):
    schema = merged(resolve(schema), resolve)
    if schema.get("type", "object") != "object" or "properties" not in schema:
        return sample(schema, resolve)
    required = set(schema.get("required", []))
    out = {}
    for name, sub in schema["properties"].items():
        sub = merged(resolve(sub), resolve)
        if name in required or any(k in sub for k in ("default", "example", "examples")):
            out[name] = (
                value_of(name, {"schema": sub}) if sub.get("type") != "object" else object_value(sub, resolve, value_of)
            )
    return out


def sample(node: dict, resolve: Resolver, name: str = ""):
    """A parameter's or a schema's example, else a value its schema allows."""
    node = resolve(node)
    if "example" in node:
        return node["example"]
    if isinstance(node.get("examples"), dict) and node["examples"]:
        return resolve(next(iter(node["examples"].values()))).get("value")
    schema = merged(resolve(node.get("schema", node)), resolve)
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "integer" or kind == "number":
        return _number(schema, kind)
    if kind == "boolean":
        return True
    if kind == "array":
        return [sample(schema.get("items", {}), resolve)] * max(1, schema.get("minItems", 1))
    if kind == "object" or "properties" in schema:
        return object_value(schema, resolve, lambda n, sub: sample(sub, resolve, n))
    if kind == "string" or kind is None and name:
        return _string(schema, name)
    raise Unfillable(f"{name or 'a value'}: its schema gives no type, example or default")


def _number(schema: dict, kind: str):
    """1 if the bounds allow it, else the nearest allowed value; ``exclusiveMinimum``/``Maximum`` as a bound
    (OpenAPI 3.1) or as a flag on ``minimum``/``maximum`` (3.0)."""
    step = 1 if kind == "integer" else 0.5
    low, high = schema.get("minimum"), schema.get("maximum")
    below, above = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if below is True and low is not None:
        low += step
    elif isinstance(below, (int, float)) and not isinstance(below, bool):
        low = below + step
    if above is True and high is not None:
        high -= step
    elif isinstance(above, (int, float)) and not isinstance(above, bool):
        high = above - step
    value = 1 if low is None or low <= 1 else low
    if high is not None and value > high:
        value = high
    return int(value) if kind == "integer" and float(value).is_integer() else value


def _string(schema: dict, name: str) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    pattern = schema.get("pattern")
    text = "example"
    if pattern:
        alternatives = re.fullmatch(r"\^?\(?([\w|-]+)\)?\$?", pattern)
        text = alternatives.group(1).split("|")[0] if alternatives else text
        if not re.search(pattern, text):
            raise Unfillable(f"{name}: no example, and the pattern {pattern!r} is beyond this generator")
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    text = text.ljust(low, "x")
    return text[:high] if high is not None else text
