"""Custom metrics a scenario declares and its steps feed: counter, gauge, rate and trend (as k6's).

- **counter**: a running sum (``count``), and ``rate`` = count per second of the run;
- **gauge**: the latest value (``value``) with its ``min`` and ``max``;
- **rate**: the share of samples that were true (``rate``) over ``count`` samples;
- **trend**: every sample in an HDR histogram (``p50`` .. ``p999``, to 1/1000 of its unit and 3
  significant digits, as request latencies are), with its exact ``min``, ``mean`` and ``max``.

``CustomMetrics`` is JSON-able and merges exactly across processes and shards (histograms and sums
add), with memory flat in test length: per metric one histogram and, per second, a few numbers.
A trend takes values from 0 up to 10**9 of its unit; any other sample (negative, not a number, too
large) is counted in ``invalid`` and not recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

from include.perfpipe.metrics import record_many_us

KINDS = ("counter", "gauge", "rate", "trend")
SCALE = 1000  # trend samples are recorded as integers of 1/SCALE of their unit
_MAX_SCALED = 10**12
_DIGITS = 3
TREND_STATS = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}
METRIC_COLUMNS = ["name", "kind", "unit", "count", "rate", "value", "min", "mean", *TREND_STATS, "max", "invalid"]
METRIC_SERIES_COLUMNS = ["t", "name", "kind", "samples", "value"]
# what a threshold may name per kind (``avg`` and ``med`` are k6's names for mean and p50)
STATS: dict[str, tuple[str, ...]] = {
    "counter": ("count", "rate"),
    "gauge": ("value", "min", "max"),
    "rate": ("rate", "count"),
    "trend": ("count", "min", "mean", *TREND_STATS, "max"),
}
ALIASES = {"avg": "mean", "med": "p50"}


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _MAX_SCALED, _DIGITS)


@dataclass
class MetricTotals:
    """One metric's whole-run totals and its per-second ``[samples, sum, max]``."""

    kind: str
    unit: str = ""
    samples: int = 0
    total: float = 0.0  # sum of the values (counter, trend), of the true samples (rate)
    low: float = math.inf
    high: float = -math.inf
    last: float | None = None  # gauge: the latest value and when it was set
    last_t: float = -1.0
    invalid: int = 0
    hist: HdrHistogram | None = None
    seconds: dict[int, list] = field(default_factory=dict)


class CustomMetrics:
    """Samples of the metrics ``declared`` (``{name: kind}``, ``units`` ``{name: unit}``) against seconds
    since the run's start."""

    def __init__(self, declared: dict[str, str] | None = None, units: dict[str, str | None] | None = None) -> None:
        self.metrics: dict[str, MetricTotals] = {}
        for name, kind in (declared or {}).items():
            if kind not in KINDS:
                raise ValueError(f"metrics.{name}.type: expected one of {', '.join(KINDS)}, got {kind!r}")
            unit = (units or {}).get(name) or ""
            self.metrics[name] = MetricTotals(kind, unit, hist=_histogram() if kind == "trend" else None)

    def add(self, name: str, value, elapsed_s: float) -> None:
        """One sample; a rate takes its truth, the others a number (bools count as 0 and 1)."""
        totals = self.metrics.get(name)
        if totals is None:
            raise KeyError(f"no metric {name!r}; declared metrics: {sorted(self.metrics)}")
        kind = totals.kind
        if kind == "rate":
            number = 1.0 if value else 0.0
        else:
            number = _number(value)
            if number is None or (kind == "trend" and not 0 <= number * SCALE <= _MAX_SCALED):
                totals.invalid += 1
                return
        totals.samples += 1
        totals.total += number
        totals.low = min(totals.low, number)
        totals.high = max(totals.high, number)
        if kind == "gauge" and elapsed_s >= totals.last_t:
            totals.last, totals.last_t = number, elapsed_s
        elif kind == "trend":
            totals.hist.record_value(max(int(round(number * SCALE)), 1))
        second = totals.seconds.get(int(elapsed_s))
        if second is None:
            totals.seconds[int(elapsed_s)] = [1, number, number]
        else:
            second[0] += 1
            second[1] += number
            second[2] = max(second[2], number)

    def add_many(self, name: str, values: list[float], elapsed_s: list[float]) -> None:
        """``add`` of each ``(value, elapsed)`` pair in turn, with the same result; a counter's or trend's
        numbers take one Python loop without a call per sample and one numpy pass into the histogram (the k6
        reader's ``iteration_duration``)."""
        totals = self.metrics.get(name)
        if totals is None or totals.kind in ("rate", "gauge"):
            for value, elapsed in zip(values, elapsed_s, strict=True):
                self.add(name, value, elapsed)
            return
        seconds, trend, recorded = totals.seconds, totals.kind == "trend", []
        samples, total, low, high, invalid = totals.samples, totals.total, totals.low, totals.high, totals.invalid
        for number, elapsed in zip(values, elapsed_s, strict=True):
            if not math.isfinite(number) or (trend and not 0 <= number * SCALE <= _MAX_SCALED):
                invalid += 1
                continue
            samples += 1
            total += number
            if number < low:
                low = number
            if number > high:
                high = number
            recorded.append(number)
            second = seconds.get(int(elapsed))
            if second is None:
                seconds[int(elapsed)] = [1, number, number]
            else:
                second[0] += 1
                second[1] += number
                if number > second[2]:
                    second[2] = number
        totals.samples, totals.total, totals.low, totals.high, totals.invalid = samples, total, low, high, invalid
        if trend:  # ``max(int(round(number * SCALE)), 1)`` of each: np.rint rounds half to even, as round does
            scaled = np.rint(np.asarray(recorded, dtype=np.float64) * SCALE).astype(np.int64)
            record_many_us(totals.hist, np.maximum(scaled, 1))

    @property
    def declared(self) -> dict[str, str]:
        return {name: t.kind for name, t in self.metrics.items()}

    def stat(self, name: str, stat: str, elapsed_s: float) -> float:
        """One stat of metric ``name`` so far (NaN before any sample), as ``frame`` would give it."""
        return _row(name, self.metrics[name], elapsed_s)[stat]

    def snapshot(self) -> dict:
        """So far, per metric: ``{kind, samples, total, last}`` (a progress snapshot's ``metrics``)."""
        return {
            name: {"kind": t.kind, "samples": t.samples, "total": t.total, "last": t.last}
            for name, t in self.metrics.items()
        }

    # -- serialisation and merging --------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            name: {
                "kind": t.kind,
                "unit": t.unit,
                "samples": t.samples,
                "total": t.total,
                "min": t.low if t.samples else None,
                "max": t.high if t.samples else None,
                "last": t.last,
                "last_t": t.last_t,
                "invalid": t.invalid,
                "hist": t.hist.encode().decode("ascii") if t.hist is not None else None,
                "seconds": [[s, *row] for s, row in sorted(t.seconds.items())],
            }
            for name, t in self.metrics.items()
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> CustomMetrics:
        metrics = cls()
        for name, m in (data or {}).items():
            metrics.metrics[name] = MetricTotals(
                kind=m["kind"],
                unit=m.get("unit", ""),
                samples=m["samples"],
                total=m["total"],
                low=m["min"] if m["min"] is not None else math.inf,
                high=m["max"] if m["max"] is not None else -math.inf,
                last=m["last"],
                last_t=m["last_t"],
                invalid=m["invalid"],
                hist=HdrHistogram.decode(m["hist"].encode("ascii")) if m["hist"] else None,
                seconds={row[0]: list(row[1:]) for row in m["seconds"]},
            )
        return metrics

    @classmethod
    def merge(cls, parts: list[CustomMetrics]) -> CustomMetrics:
        """Exact merge: samples, sums and histograms add; a gauge keeps the latest value set."""
        merged = cls()
        for part in parts:
            for name, t in part.metrics.items():
                into = merged.metrics.get(name)
                if into is None:
                    into = merged.metrics[name] = MetricTotals(
                        t.kind, t.unit, hist=_histogram() if t.kind == "trend" else None
                    )
                elif into.kind != t.kind:
                    raise ValueError(f"metric {name!r} is a {into.kind} in one part and a {t.kind} in another")
                into.samples += t.samples
                into.total += t.total
                into.low, into.high = min(into.low, t.low), max(into.high, t.high)
                into.invalid += t.invalid
                if t.last is not None and t.last_t >= into.last_t:
                    into.last, into.last_t = t.last, t.last_t
                if t.hist is not None:
                    into.hist.add(t.hist)
                for second, (samples, total, high) in t.seconds.items():
                    row = into.seconds.setdefault(second, [0, 0.0, high])
                    row[0] += samples
                    row[1] += total
                    row[2] = max(row[2], high)
        return merged

    # -- tidy frames ----------------------------------------------------------------------
    def frame(self, duration_s: float) -> pd.DataFrame:
        """``metrics_frame``: one row per metric, the columns of ``METRIC_COLUMNS`` (NaN where a kind has none)."""
        rows = [_row(name, t, duration_s) for name, t in sorted(self.metrics.items())]
        return pd.DataFrame(rows, columns=METRIC_COLUMNS)

    def series_frame(self) -> pd.DataFrame:
        """One row per second and metric: ``value`` is the counter's sum, the rate's share, the trend's
        mean and the gauge's highest value in that second."""
        rows = []
        for name, t in sorted(self.metrics.items()):
            for second, (samples, total, high) in sorted(t.seconds.items()):
                value = {"counter": total, "gauge": high}.get(t.kind, total / samples)
                rows.append({"t": second, "name": name, "kind": t.kind, "samples": samples, "value": value})
        return pd.DataFrame(rows, columns=METRIC_SERIES_COLUMNS)


def combine_snapshots(snapshots: list[dict]) -> dict:
    """Several processes' ``snapshot()`` as one: samples and totals add, a gauge shows the highest value."""
    combined: dict[str, dict] = {}
    for snapshot in snapshots:
        for name, m in snapshot.items():
            into = combined.setdefault(name, {"kind": m["kind"], "samples": 0, "total": 0.0, "last": None})
            into["samples"] += m["samples"]
            into["total"] += m["total"]
            if m["last"] is not None:
                into["last"] = m["last"] if into["last"] is None else max(into["last"], m["last"])
    return combined


def snapshot_value(m: dict) -> float:
    """A snapshot entry's one figure: a counter's sum, a gauge's value, a rate's share true, a trend's mean."""
    if m["kind"] == "counter":
        return m["total"]
    if m["kind"] == "gauge":
        return math.nan if m["last"] is None else m["last"]
    return m["total"] / m["samples"] if m["samples"] else math.nan


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _row(name: str, t: MetricTotals, duration_s: float) -> dict:
    row = {column: math.nan for column in METRIC_COLUMNS}
    row.update(name=name, kind=t.kind, unit=t.unit, invalid=t.invalid)
    has = t.samples > 0
    if t.kind == "counter":
        row.update(count=t.total, rate=t.total / duration_s if duration_s > 0 else math.nan)
    elif t.kind == "rate":
        row.update(count=t.samples, rate=t.total / t.samples if has else math.nan)
    elif t.kind == "gauge":
        row.update(count=t.samples)
        if has:
            row.update(value=t.last, min=t.low, max=t.high)
    else:
        row.update(count=t.samples)
        if has:
            row.update(
                min=t.low,
                mean=t.total / t.samples,
                max=t.high,
                **{col: t.hist.get_value_at_percentile(p) / SCALE for col, p in TREND_STATS.items()},
            )
    return row
