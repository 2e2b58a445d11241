"""HDR-histogram recording of request latencies: the one result shape every stage reports in.

A ``MetricsRecorder`` keeps, with memory flat in test length:
- per endpoint: an HDR histogram of latencies, request, error and status counts;
- per second and class: a compact (encoded) histogram, requests, errors, dropped sends and active users.

Recorders serialise to JSON-able dicts and merge exactly, so shards of one run
(processes or mapped Airflow tasks) add up to the same numbers a single generator would report.
The tidy frames (``stats_frame``, ``timeseries_frame``) are what validation, reporting and the
store consume.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
from hdrh.histogram import HdrHistogram

ALL = "all"
_MAX_US = 3_600_000_000  # one hour, in microseconds
_TOTAL_DIGITS = 3
_SECOND_DIGITS = 2
PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p95_ms": 95.0, "p99_ms": 99.0, "p999_ms": 99.9}
STATS_COLUMNS = [
    "scope",
    "name",
    "klass",
    "count",
    "errors",
    "error_rate",
    "rps",
    "min_ms",
    "mean_ms",
    *PERCENTILES,
    "max_ms",
    "status_counts",
]
TIMESERIES_COLUMNS = [
    "t",
    "klass",
    "active_vus",
    "requests",
    "rps",
    "errors",
    "dropped",
    "p50_ms",
    "p95_ms",
    "p99_ms",
]


def new_histogram(digits: int = _TOTAL_DIGITS) -> HdrHistogram:
    return HdrHistogram(1, _MAX_US, digits)


def _encode(hist: HdrHistogram) -> str:
    return hist.encode().decode("ascii")


def _decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def _to_us(seconds: float) -> int:
    return min(max(int(seconds * 1_000_000), 1), _MAX_US)


@dataclass
class EndpointTotals:
    klass: str
    hist: HdrHistogram = field(default_factory=new_histogram)
    count: int = 0
    errors: int = 0
    dropped: int = 0
    statuses: Counter = field(default_factory=Counter)


@dataclass
class SecondBucket:
    hist: HdrHistogram = field(default_factory=lambda: new_histogram(_SECOND_DIGITS))
    requests: int = 0
    errors: int = 0
    dropped: int = 0
    encoded: str | None = None  # set once the second is sealed and the live histogram freed


class MetricsRecorder:
    """Records request outcomes against seconds elapsed since the run's common start."""

    def __init__(self) -> None:
        self.endpoints: dict[str, EndpointTotals] = {}
        self.seconds: dict[tuple[int, str], SecondBucket] = {}
        self.active_vus: dict[int, int] = {}
        self._sealed_before = 0

    # -- hot path -------------------------------------------------------------------------
    def record(self, name: str, klass: str, latency_s: float, ok: bool, status: int | str, elapsed_s: float) -> None:
        """Record one finished request; ``elapsed_s`` is when it finished, from the run start."""
        totals = self.endpoints.get(name)
        if totals is None:
            totals = self.endpoints[name] = EndpointTotals(klass)
        value = _to_us(latency_s)
        totals.hist.record_value(value)
        totals.count += 1
        totals.statuses[status] += 1
        second = self._bucket(int(elapsed_s), klass)
        second.hist.record_value(value)
        second.requests += 1
        if not ok:
            totals.errors += 1
            second.errors += 1

    def record_dropped(self, name: str, klass: str, elapsed_s: float) -> None:
        """Record a send the generator could not make on time (open model)."""
        totals = self.endpoints.get(name)
        if totals is None:
            totals = self.endpoints[name] = EndpointTotals(klass)
        totals.dropped += 1
        self._bucket(int(elapsed_s), klass).dropped += 1

    def set_active_vus(self, elapsed_s: float, vus: int) -> None:
        second = int(elapsed_s)
        self.active_vus[second] = max(vus, self.active_vus.get(second, 0))

    def seal_before(self, second: int) -> None:
        """Encode and free the live histograms of every second before ``second``."""
        for (t, _), bucket in self.seconds.items():
            if self._sealed_before <= t < second and bucket.encoded is None:
                bucket.encoded = _encode(bucket.hist)
                bucket.hist = None
        self._sealed_before = max(self._sealed_before, second)

    def _bucket(self, second: int, klass: str) -> SecondBucket:
        key = (second, klass)
        bucket = self.seconds.get(key)
        if bucket is None:
            bucket = self.seconds[key] = SecondBucket()
        elif bucket.hist is None:  # a late completion for a sealed second: reopen it
            bucket.hist = _decode(bucket.encoded)
            bucket.encoded = None
        return bucket

    # -- serialisation and merging --------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "endpoints": [
                {
                    "name": name,
                    "klass": t.klass,
                    "count": t.count,
                    "errors": t.errors,
                    "dropped": t.dropped,
                    "statuses": {str(k): v for k, v in t.statuses.items()},
                    "hist": _encode(t.hist),
                }
                for name, t in self.endpoints.items()
            ],
            "seconds": [
                {
                    "t": t,
                    "klass": klass,
                    "requests": b.requests,
                    "errors": b.errors,
                    "dropped": b.dropped,
                    "hist": b.encoded if b.hist is None else _encode(b.hist),
                }
                for (t, klass), b in sorted(self.seconds.items())
            ],
            "active_vus": {str(t): v for t, v in sorted(self.active_vus.items())},
        }

    @classmethod
    def from_dict(cls, data: dict) -> MetricsRecorder:
        recorder = cls()
        for e in data["endpoints"]:
            recorder.endpoints[e["name"]] = EndpointTotals(
                klass=e["klass"],
                hist=_decode(e["hist"]),
                count=e["count"],
                errors=e["errors"],
                dropped=e.get("dropped", 0),
                statuses=Counter(e["statuses"]),
            )
        for s in data["seconds"]:
            recorder.seconds[(s["t"], s["klass"])] = SecondBucket(
                hist=None,
                requests=s["requests"],
                errors=s["errors"],
                dropped=s["dropped"],
                encoded=s["hist"],
            )
        recorder.active_vus = {int(t): v for t, v in data["active_vus"].items()}
        return recorder

    @classmethod
    def merge(cls, recorders: list[MetricsRecorder]) -> MetricsRecorder:
        """Exact merge of shards: counts add, histograms add, active users add per second."""
        merged = cls()
        for rec in recorders:
            for name, t in rec.endpoints.items():
                into = merged.endpoints.get(name)
                if into is None:
                    into = merged.endpoints[name] = EndpointTotals(t.klass)
                into.hist.add(t.hist)
                into.count += t.count
                into.errors += t.errors
                into.dropped += t.dropped
                for status, n in t.statuses.items():
                    into.statuses[str(status)] += n
            for key, b in rec.seconds.items():
                into = merged.seconds.get(key)
                if into is None:
                    into = merged.seconds[key] = SecondBucket()
                into.hist.add(b.hist if b.hist is not None else _decode(b.encoded))
                into.requests += b.requests
                into.errors += b.errors
                into.dropped += b.dropped
            for second, vus in rec.active_vus.items():
                merged.active_vus[second] = merged.active_vus.get(second, 0) + vus
        return merged

    # -- tidy frames ----------------------------------------------------------------------
    def stats_frame(self, duration_s: float) -> pd.DataFrame:
        """One row per endpoint, per class and for the total, with latency percentiles in ms."""
        rows = []
        by_class: dict[str, list[EndpointTotals]] = {}
        for name, t in sorted(self.endpoints.items()):
            rows.append(_stats_row("endpoint", name, t.klass, [t], duration_s))
            by_class.setdefault(t.klass, []).append(t)
        for klass, group in sorted(by_class.items()):
            rows.append(_stats_row("class", klass, klass, group, duration_s))
        if self.endpoints:
            rows.append(_stats_row("total", ALL, ALL, list(self.endpoints.values()), duration_s))
        return pd.DataFrame(rows, columns=STATS_COLUMNS)

    def timeseries_frame(self) -> pd.DataFrame:
        """One row per second and class, plus an ``all`` row per second."""
        per_second: dict[int, dict[str, SecondBucket]] = {}
        for (t, klass), b in self.seconds.items():
            per_second.setdefault(t, {})[klass] = b
        seconds = sorted(set(per_second) | set(self.active_vus))
        rows = []
        for t in seconds:
            buckets = per_second.get(t, {})
            total = SecondBucket()
            for klass, b in sorted(buckets.items()):
                hist = b.hist if b.hist is not None else _decode(b.encoded)
                rows.append(_second_row(t, klass, None, b, hist))
                total.hist.add(hist)
                total.requests += b.requests
                total.errors += b.errors
                total.dropped += b.dropped
            rows.append(_second_row(t, ALL, self.active_vus.get(t, 0), total, total.hist))
        return pd.DataFrame(rows, columns=TIMESERIES_COLUMNS)


def _ms(value: float) -> float:
    return round(value / 1000.0, 3)


def _stats_row(scope: str, name: str, klass: str, group: list[EndpointTotals], duration_s: float) -> dict:
    hist = new_histogram()
    statuses: Counter = Counter()
    count = errors = 0
    for t in group:
        hist.add(t.hist)
        for status, n in t.statuses.items():
            statuses[str(status)] += n
        count += t.count
        errors += t.errors
    row = {
        "scope": scope,
        "name": name,
        "klass": klass,
        "count": count,
        "errors": errors,
        "error_rate": errors / count if count else 0.0,
        "rps": count / duration_s if duration_s > 0 else 0.0,
        "status_counts": json.dumps(dict(sorted(statuses.items()))),
    }
    if count:
        row.update(
            min_ms=_ms(hist.get_min_value()),
            mean_ms=_ms(hist.get_mean_value()),
            max_ms=_ms(hist.get_max_value()),
            **{col: _ms(hist.get_value_at_percentile(p)) for col, p in PERCENTILES.items()},
        )
    else:
        row.update({col: float("nan") for col in ["min_ms", "mean_ms", "max_ms", *PERCENTILES]})
    return row


def _second_row(t: int, klass: str, active_vus: int | None, b: SecondBucket, hist: HdrHistogram) -> dict:
    has = b.requests > 0
    return {
        "t": t,
        "klass": klass,
        "active_vus": active_vus,
        "requests": b.requests,
        "rps": float(b.requests),
        "errors": b.errors,
        "dropped": b.dropped,
        "p50_ms": _ms(hist.get_value_at_percentile(50)) if has else float("nan"),
        "p95_ms": _ms(hist.get_value_at_percentile(95)) if has else float("nan"),
        "p99_ms": _ms(hist.get_value_at_percentile(99)) if has else float("nan"),
    }
