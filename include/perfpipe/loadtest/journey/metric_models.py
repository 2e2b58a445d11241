"""Custom metrics in the scenario file (docs/scenarios.md, "Custom metrics"): their declarations under
``metrics:`` with their thresholds, and the ``metrics:`` of a step that feeds them."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from include.perfpipe.custom_metrics import ALIASES, STATS
from include.perfpipe.durations import parse_duration
from include.perfpipe.limits import parse_limit_of
from include.perfpipe.loadtest.journey.jsonpath import JsonPath
from include.perfpipe.metric_names import COUNT, LATENCY, NUMBER, RATE, RATIO
from include.perfpipe.vocabulary import OPERATOR_RE

METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATOR = re.compile(rf"^\s*({OPERATOR_RE})")


def _compiles(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc})") from None
    return value


Regex = Annotated[str, AfterValidator(_compiles)]
"""A regular expression, refused at load when it does not compile (extraction and metric feeds)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class MetricLimit(_Model):
    """One threshold of a custom metric: ``stat operator limit`` (the limit in the metric's unit)."""

    stat: str
    operator: str
    limit: float
    abort_on_fail: bool = False  # judged every second while the run goes (k6's abortOnFail)
    abort_delay_s: float = 0.0  # not before this many seconds (k6's delayAbortEval)


def _limit_kind(kind: str, stat: str, unit: str | None) -> str:
    if stat == "count":
        return COUNT
    if stat == "rate":
        return RATIO if kind == "rate" else RATE
    return LATENCY if unit == "ms" else NUMBER


class MetricDeclaration(_Model):
    """``type`` (counter, gauge, rate or trend); ``unit: ms`` for a time (a trend or gauge); ``group``
    feeds a trend with the duration of that group; ``thresholds`` as ``{stat: "<op> <limit>"}``."""

    type: Literal["counter", "gauge", "rate", "trend"]
    unit: Literal["ms"] | None = None
    group: str | None = None
    description: str | None = None
    thresholds: dict[str, MetricLimit] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _limits(cls, raw):
        if not isinstance(raw, dict) or not isinstance(raw.get("thresholds"), dict):
            return raw
        kind, unit = raw.get("type"), raw.get("unit")
        if kind not in STATS:
            return raw  # the type's own error says what is wrong
        limits = {}
        for stat, text in raw["thresholds"].items():
            if isinstance(text, MetricLimit) or (isinstance(text, dict) and "stat" in text):  # a spec read back
                limits[stat] = text
                continue
            name = ALIASES.get(stat, stat)
            if name not in STATS[kind]:
                raise ValueError(f"thresholds.{stat}: a {kind} has {', '.join(STATS[kind])}, not {stat!r}")
            abort = {}
            if isinstance(text, dict):  # {limit, abort_on_fail, abort_delay}
                unknown = sorted(set(text) - {"limit", "abort_on_fail", "abort_delay"})
                if unknown or "limit" not in text:
                    raise ValueError(
                        f"thresholds.{stat}: expected '<op> <limit>' or {{limit, abort_on_fail, abort_delay}}, "
                        f"got keys {sorted(text)}"
                    )
                abort = {
                    "abort_on_fail": text.get("abort_on_fail", False),
                    "abort_delay_s": parse_duration(text.get("abort_delay", 0), f"thresholds.{stat}.abort_delay"),
                }
                text = text["limit"]
            if not isinstance(text, str) or not _OPERATOR.match(text):
                raise ValueError(f"thresholds.{stat}: expected '<op> <limit>' such as '>= 1000', got {text!r}")
            try:
                operator, limit = parse_limit_of(_limit_kind(kind, name, unit), "", text)
            except ValueError as exc:
                raise ValueError(f"thresholds.{stat}: {exc} (got {text!r})") from None
            limits[name] = {"stat": name, "operator": operator, "limit": limit, **abort}
        return {**raw, "thresholds": limits}

    @model_validator(mode="after")
    def _fits_type(self):
        if self.unit is not None and self.type not in ("trend", "gauge"):
            raise ValueError(f"unit: only a trend or a gauge has a unit, not a {self.type}")
        if self.group is not None and self.type != "trend":
            raise ValueError(f"group: only a trend takes a group's duration, not a {self.type}")
        return self


class MetricFeed(_Model):
    """What a step adds to a metric: a constant ``value``, a number read from the response (``json``,
    ``header`` or ``regex``, as ``extract``), the step's ``duration`` in ms, or whether it was ``ok``.
    ``when``: ``ok`` (default: only after a successful step) or ``always``."""

    value: float | None = None
    json_path: str | None = Field(None, alias="json")
    header: str | None = None
    regex: Regex | None = None
    duration: bool | None = None
    ok: bool | None = None
    when: Literal["ok", "always"] = "ok"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw):
        if isinstance(raw, bool):
            raise ValueError(f"expected a number, a JSON path or a mapping, got {raw!r}")
        if isinstance(raw, (int, float)):
            return {"value": raw}
        return {"json": raw} if isinstance(raw, str) else raw

    @field_validator("json_path")
    @classmethod
    def _json_path(cls, value):
        if value is not None:
            JsonPath(value)
        return value

    @model_validator(mode="after")
    def _one_source(self):
        given = [
            k
            for k in ("value", "json_path", "header", "regex", "duration", "ok")
            if getattr(self, k) not in (None, False)
        ]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of value, json, header, regex, duration: true or ok: true, got {given or 'none'}"
            )
        return self

    @property
    def reads_body(self) -> bool:
        return self.json_path is not None or self.regex is not None or self.header is not None


def check_metric_names(declared: dict[str, MetricDeclaration]) -> None:
    for name in declared:
        if not METRIC_NAME.fullmatch(name):
            raise ValueError(f"metrics: a metric name is letters, digits and _, got {name!r}")
