"""The one table of the metrics a run is judged on: their kind (which fixes the units a limit may use), the
operator a limit means when it names none, the percentile behind a ``pNN_ms``, and where they can be judged.

Limit parsing (``limits``), the validation frames (``validation.windows``), abort rules
(``loadtest.spec``, ``loadtest.engine.guard``) and the recorder's stats (``metrics``) all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

LATENCY, RATIO, RATE, COUNT, NUMBER = "latency", "ratio", "rate", "count", "number"


@dataclass(frozen=True)
class Metric:
    kind: str  # LATENCY (ms), RATIO (a fraction), RATE (per second) or COUNT
    operator: str  # the comparison a limit without one means: "<" for a ceiling, ">=" for a floor
    percentile: float | None = None  # for pNN_ms: the percentile of the latency histogram
    per_second: bool = False  # kept for each second, so the threshold window ``second`` can judge it
    live: bool = True  # an abort rule can watch it while the run goes


METRICS: dict[str, Metric] = {
    "p50_ms": Metric(LATENCY, "<", 50.0, per_second=True),
    "p90_ms": Metric(LATENCY, "<", 90.0),
    "p95_ms": Metric(LATENCY, "<", 95.0, per_second=True),
    "p99_ms": Metric(LATENCY, "<", 99.0, per_second=True),
    "p999_ms": Metric(LATENCY, "<", 99.9),
    "mean_ms": Metric(LATENCY, "<"),
    "max_ms": Metric(LATENCY, "<"),
    "error_rate": Metric(RATIO, "<", per_second=True),
    "rps": Metric(RATE, ">=", per_second=True),
    "peak_vus": Metric(COUNT, ">=", per_second=True),
    "check_pass_rate": Metric(RATIO, ">=", live=False),  # declarative checks passed / evaluated
}
PERCENTILES = {name: m.percentile for name, m in METRICS.items() if m.percentile is not None}
LATENCIES = tuple(name for name, m in METRICS.items() if m.kind == LATENCY)
LIVE_METRICS = tuple(name for name, m in METRICS.items() if m.live)
SECOND_METRICS = tuple(name for name, m in METRICS.items() if m.per_second)
