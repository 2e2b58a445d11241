"""Read a scenario file into a validated ``ScenarioFile``, with its feeders' files found and read.

``read_scenario`` refuses bad YAML and bad fields with the file, the field and the value.
A flat ``endpoints`` list with nothing templated, extracted or declared-checked keeps the engine's
fastest path (``is_plain``): one pre-built request per endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from include.perfpipe.config_files import config_dirs, config_file, read_yaml
from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.http.credentials import looks_secret
from include.perfpipe.loadtest.journey.feeders import columns, read_rows
from include.perfpipe.loadtest.journey.models import ScenarioFile, describe
from include.perfpipe.loadtest.journey.template import has_template

PROJECT_ROOT = Path(__file__).resolve().parents[4]


def read_scenario(path: str | Path) -> ScenarioFile:
    """The validated scenario; feeder ``file``s become project-relative (or absolute) paths, each inside the
    scenario's folder or the config folders (``config_files.config_dirs``)."""
    path = Path(path)
    document = read_yaml(path)
    data = document.data
    if not isinstance(data, dict):
        raise document.error(None, "expected a mapping with 'endpoints' or 'journey'", data)
    try:
        scenario = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, str(path), document)) from None
    _refuse_literal_credentials(data, path)
    folders = [*config_dirs(), path.resolve().parent]
    feeders = {}
    for name, feeder in scenario.feeders.items():
        file = config_file((path.parent / feeder.file).resolve(), f"feeders.{name}.file", folders)
        feeders[name] = feeder.model_copy(update={"file": _portable(file)})
    return scenario.model_copy(update={"feeders": feeders})


def _refuse_literal_credentials(node, path: Path, where: str = "") -> None:
    """A secret-looking header (``Authorization``, ``X-Api-Key`` ...), ``json`` or ``body`` field, journey
    variable or query parameter (``password``, ``api_key``, ``token`` ...: ``credentials.looks_secret``) with a
    fixed value would be copied into the spec, its XComs and bundle.json: refused, naming the field and never
    its value. A templated value (``{{ users.password }}``, ``Bearer {{ token }}``) is fine."""
    if isinstance(node, dict):
        for key, value in node.items():
            field = f"{where}.{key}".lstrip(".")
            if key == "headers" and isinstance(value, dict):
                for name, text in value.items():
                    if looks_secret(str(name)) and _fixed(text):
                        raise _fixed_secret(path, f"{field}.{name}", "credential header")
            elif key in ("json", "variables") and isinstance(value, dict | list):
                _refuse_fixed_fields(value, path, field)
            elif key == "body" and isinstance(value, str):
                _refuse_fixed_fields(_body_fields(value), path, field)
            elif key in ("path", "url") and isinstance(value, str):
                _refuse_fixed_fields(dict(parse_qsl(urlsplit(value).query)), path, f"{field} query")
            _refuse_literal_credentials(value, path, field)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _refuse_literal_credentials(item, path, f"{where}[{i}]")


def _fixed(value) -> bool:
    """A value written into the file (not templated from a feeder or an extracted variable)."""
    if isinstance(value, str):
        return bool(value) and not has_template(value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _body_fields(body: str):
    """A ``body``'s fields: JSON's, else a form's (``user=a&password=b``)."""
    try:
        return json.loads(body)
    except ValueError:
        return dict(parse_qsl(body))


def _refuse_fixed_fields(node, path: Path, where: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if looks_secret(str(key)) and _fixed(value):
                raise _fixed_secret(path, f"{where}.{key}", "field")
            _refuse_fixed_fields(value, path, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _refuse_fixed_fields(item, path, f"{where}[{i}]")


def _fixed_secret(path: Path, field: str, what: str) -> ConfigError:
    return ConfigError(
        f"{field}: a secret-looking {what} with a fixed value (not shown) would be recorded in the spec, its "
        "XComs and bundle.json; template it from a feeder ({{ users.password }}) or an extracted value, or put "
        "a header in the target connection's extra headers",
        file=path,
    )


def feeder_rows(scenario: ScenarioFile) -> dict[str, list[dict]]:
    """Every feeder's rows, read from its file (relative paths from the project root)."""
    return {name: read_rows(PROJECT_ROOT / feeder.file, f"feeders.{name}") for name, feeder in scenario.feeders.items()}


def feeder_columns(rows: dict[str, list[dict]]) -> dict[str, set[str]]:
    return {name: columns(feeder) for name, feeder in rows.items()}


def is_plain(scenario: ScenarioFile) -> bool:
    """A flat list of fixed requests: nothing templated, extracted, checked declaratively or measured."""
    if scenario.endpoints is None or scenario.feeders or scenario.metrics:
        return False
    for endpoint in scenario.endpoints:
        texts = [endpoint.path or endpoint.url, endpoint.body or "", *endpoint.headers.values()]
        if endpoint.extract or endpoint.checks or endpoint.think_time or endpoint.on_failure:
            return False
        if any(has_template(t) for t in texts) or has_template(repr(endpoint.json_body)):
            return False
    return not any(has_template(v) for v in scenario.headers.values())


def step_urls(scenario: ScenarioFile, target: str) -> list[str]:
    """The URL of every step (the target itself for a Python journey, whose paths are checked as sent)."""
    if scenario.python is not None:
        return [target]
    steps = scenario.endpoints or [*scenario.journey.setup, *scenario.journey.steps, *scenario.journey.teardown]
    return [step.url or target.rstrip("/") + step.path for step in steps]


def to_dict(scenario: ScenarioFile) -> dict:
    """JSON-able, and ``ScenarioFile.model_validate`` gives the same scenario back."""
    return scenario.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _portable(path: Path) -> str:
    path = path.resolve()
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
