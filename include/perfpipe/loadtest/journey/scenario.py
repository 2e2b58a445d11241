"""Read a scenario file into a validated ``ScenarioFile``, with its feeders' files found and read.

``read_scenario`` refuses bad YAML and bad fields with the file, the field and the value.
A flat ``endpoints`` list with nothing templated, extracted or declared-checked keeps the engine's
fastest path (``is_plain``): one pre-built request per endpoint.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.credentials import looks_secret
from include.perfpipe.loadtest.journey.feeders import columns, read_rows
from include.perfpipe.loadtest.journey.models import ScenarioFile, describe
from include.perfpipe.loadtest.journey.template import has_template

PROJECT_ROOT = Path(__file__).resolve().parents[4]


def read_scenario(path: str | Path) -> ScenarioFile:
    """The validated scenario; feeder ``file``s become project-relative (or absolute) paths."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"scenario: cannot read {str(path)!r}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'endpoints' or 'journey', got {data!r}")
    try:
        scenario = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, str(path))) from None
    _refuse_literal_credentials(data, path)
    feeders = {
        name: feeder.model_copy(update={"file": _portable(path.parent / feeder.file)})
        for name, feeder in scenario.feeders.items()
    }
    return scenario.model_copy(update={"feeders": feeders})


def _refuse_literal_credentials(node, path: Path, where: str = "") -> None:
    """A secret-looking header (``Authorization``, ``X-Api-Key`` ...) with a fixed value would be copied
    into the spec, its XComs and the report: refused, naming the header and never its value. A templated
    value (``Bearer {{ token }}``, extracted at run time) is fine."""
    if isinstance(node, dict):
        for key, value in node.items():
            field = f"{where}.{key}".lstrip(".")
            if key == "headers" and isinstance(value, dict):
                for name, text in value.items():
                    if looks_secret(str(name)) and isinstance(text, str) and not has_template(text):
                        raise ConfigError(
                            f"{field}.{name}: a credential header with a fixed value (not shown) would be recorded "
                            "in the spec and the report; put it in the target connection's extra headers, or "
                            "template it from an extracted value",
                            file=path,
                        )
            _refuse_literal_credentials(value, path, field)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _refuse_literal_credentials(item, path, f"{where}[{i}]")


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
