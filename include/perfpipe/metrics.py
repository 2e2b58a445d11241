"""HDR-histogram recording of request latencies: the one result shape every stage reports in.

A ``MetricsRecorder`` keeps, with memory flat in test length:
- per endpoint (a step of one scenario, with its group and tags): an HDR histogram of latencies,
  request, error, status and check counts;
- per second, scenario and class: a compact (encoded) histogram, requests, errors, dropped sends and
  active users.

A recorder records for one ``scenario`` (``DEFAULT_SCENARIO`` when the run has no named scenarios);
``label(name, group, tags)`` says which group and tags a step's requests carry. Merged recorders hold
every scenario of the run.

Recorders serialise to JSON-able dicts and merge exactly, so shards of one run
(processes or mapped Airflow tasks) add up to the same numbers a single generator would report.
The tidy frames (``stats_frame``, ``timeseries_frame``) are what validation, reporting and the
store consume.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

from include.perfpipe.metric_names import PERCENTILES

ALL = "all"
DEFAULT_SCENARIO = "default"  # the one implicit scenario of a file without ``scenarios``
_MAX_US = 3_600_000_000  # one hour, in microseconds
_TOTAL_DIGITS = 3
_SECOND_DIGITS = 2
STATS_COLUMNS = [
    "scope",
    "name",
    "class_name",
    "count",
    "errors",
    "error_rate",
    "rps",
    "min_ms",
    "mean_ms",
    *PERCENTILES,
    "max_ms",
    "status_counts",
    "scenario",
    "group_name",
    "tags",
    "checks_passed",
    "checks_failed",
    "check_pass_rate",
]
SCENARIO_STATS_COLUMNS = ["scenario", "group_name", "tags", "checks_passed", "checks_failed", "check_pass_rate"]
TIMESERIES_COLUMNS = [
    "t",
    "class_name",
    "active_vus",
    "requests",
    "rps",
    "errors",
    "dropped",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "scenario",
]


def new_histogram(digits: int = _TOTAL_DIGITS) -> HdrHistogram:
    return HdrHistogram(1, _MAX_US, digits)


def histogram_counts(hist: HdrHistogram) -> np.ndarray:
    """The bucket counts of ``hist`` (int64, ``counts_len`` long; a decoded, truncated array is padded)."""
    counts = np.ctypeslib.as_array(hist.counts)[: hist.counts_len].astype(np.int64)
    return np.pad(counts, (0, hist.counts_len - len(counts)))


def latency_us(hist: HdrHistogram, percentiles: dict[str, float]) -> dict:
    """``{name: hist.get_value_at_percentile(p)}`` (each ``p`` above 0), ``mean``: ``hist.get_mean_value()`` and
    ``max``: ``hist.get_max_value()``, exactly, in µs, for a histogram with values. hdrh walks the buckets in
    Python, 0.9 s per stats row of 1,000 values at 3 digits (its mean iterates every recorded value): that made
    ``stats_frame`` 54 of the 84 s of the regression benchmark's analysis."""
    return bucket_latency_us(
        histogram_counts(hist),
        percentiles,
        (hist.lowest_trackable_value, hist.highest_trackable_value, hist.significant_figures),
    )


def bucket_latency_us(counts: np.ndarray, percentiles: dict[str, float], layout: tuple[int, int, int]) -> dict:
    """``latency_us`` from the bucket counts of a histogram with ``layout`` (lowest, highest value, digits),
    vectorised: the first bucket whose running count reaches a percentile's target, hdrh's rounding."""
    highest, median = _index_values(*layout)
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    out = {
        name: int(highest[np.searchsorted(cumulative, max(int(min(p, 100.0) * total / 100 + 0.5), 1))])
        for name, p in percentiles.items()
    }
    out["mean"] = int(counts @ median) / total
    out["max"] = int(highest[np.flatnonzero(counts)[-1]])
    return out


def histogram_layout(digits: int = _TOTAL_DIGITS) -> tuple[int, int, int]:
    """The (lowest, highest value, digits) of ``new_histogram(digits)``."""
    return 1, _MAX_US, digits


@functools.cache
def _index_values(lowest: int, highest: int, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per counts index of a histogram of that range and precision: highest and median equivalent value (µs)."""
    hist = HdrHistogram(lowest, highest, digits)
    low = np.array([hist.get_value_from_index(i) for i in range(hist.counts_len)], dtype=np.int64)
    high = np.array([hist.get_highest_equivalent_value(int(v)) for v in low], dtype=np.int64)
    return high, low + ((high - low + 1) >> 1)


def _encode(hist: HdrHistogram) -> str:
    return hist.encode().decode("ascii")


def _decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def _to_us(seconds: float) -> int:
    return min(max(int(seconds * 1_000_000), 1), _MAX_US)


def record_us(hist: HdrHistogram, value: int) -> None:
    """``hist.record_value(value)`` for a value from 1 to the histogram's highest trackable value (for
    request latencies, what ``_to_us`` returns), inlined:
    the same bucket and sub-bucket arithmetic as hdrh's ``_counts_index_for`` (its ``64 - _clz(v)`` is
    ``v.bit_length()``) and the same count, total, min and max, without its five Python calls per
    value; the histogram stays the one hdrh encodes and merges."""
    half = hist.sub_bucket_half_count_magnitude
    bucket = (value | hist.sub_bucket_mask).bit_length() - hist.unit_magnitude - half - 1
    index = ((bucket + 1) << half) + ((value >> (bucket + hist.unit_magnitude)) - hist.sub_bucket_half_count)
    hist.counts[index] += 1
    hist.total_count += 1
    if value < hist.min_value:
        hist.min_value = value
    if value > hist.max_value:
        hist.max_value = value


def record_many_us(hist: HdrHistogram, values: np.ndarray) -> None:
    """``record_us`` of each of ``values`` (int64, each in the histogram's range) in a few numpy passes: the
    same bucket arithmetic (``np.frexp``'s exponent is ``int.bit_length`` below 2**53), counts added in place
    to hdrh's own ``counts`` array."""
    if not len(values):
        return
    half, unit = hist.sub_bucket_half_count_magnitude, hist.unit_magnitude
    bucket = np.frexp((values | hist.sub_bucket_mask).astype(np.float64))[1] - unit - half - 1
    index = ((bucket + 1) << half) + ((values >> (bucket + unit)) - hist.sub_bucket_half_count)
    np.add.at(np.ctypeslib.as_array(hist.counts), index, 1)
    hist.total_count += len(values)
    low, high = int(values.min()), int(values.max())
    if low < hist.min_value:
        hist.min_value = low
    if high > hist.max_value:
        hist.max_value = high


@dataclass
class EndpointTotals:
    class_name: str
    hist: HdrHistogram = field(default_factory=new_histogram)
    count: int = 0
    errors: int = 0
    dropped: int = 0
    statuses: Counter = field(default_factory=Counter)
    name: str = ""
    scenario: str = DEFAULT_SCENARIO
    group: str = ""
    tags: tuple[tuple[str, str], ...] = ()  # sorted (key, value) pairs: the step's and its scenario's
    checks_passed: int = 0
    checks_failed: int = 0


@dataclass
class SecondBucket:
    hist: HdrHistogram = field(default_factory=lambda: new_histogram(_SECOND_DIGITS))
    requests: int = 0
    errors: int = 0
    dropped: int = 0
    encoded: str | None = None  # set once the second is sealed and the live histogram freed


class MetricsRecorder:
    """Records request outcomes against seconds elapsed since the run's common start."""

    def __init__(self, scenario: str = DEFAULT_SCENARIO, tags: dict[str, str] | None = None) -> None:
        self.scenario = scenario
        self.tags = tuple(sorted((tags or {}).items()))  # of a request whose name was not labelled
        self.iterations: dict[str, int] = {}  # scenario -> iterations run (journeys)
        self.endpoints: dict[tuple[str, str], EndpointTotals] = {}  # (scenario, name) -> totals
        self.seconds: dict[tuple[int, str, str], SecondBucket] = {}  # (t, class_name, scenario) -> bucket
        self.active_vus: dict[int, int] = {}
        self.scenario_vus: dict[tuple[int, str], int] = {}  # (t, scenario) -> active VUs
        self.labels: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}  # name -> (group, tags)
        self._sealed_before = 0

    def label(self, name: str, group: str | None = None, tags: dict[str, str] | None = None) -> None:
        """The group and tags every request recorded under ``name`` carries (set before recording)."""
        self.labels[name] = (group or "", tuple(sorted((tags or {}).items())))

    # -- hot path -------------------------------------------------------------------------
    def record(
        self, name: str, class_name: str, latency_s: float, ok: bool, status: int | str, elapsed_s: float
    ) -> None:
        """Record one finished request; ``elapsed_s`` is when it finished, from the run start."""
        totals = self.endpoints.get((self.scenario, name))
        if totals is None:
            totals = self._totals(name, class_name)
        value = _to_us(latency_s)
        record_us(totals.hist, value)
        totals.count += 1
        totals.statuses[status] += 1
        second = self._bucket(int(elapsed_s), class_name)
        record_us(second.hist, value)
        second.requests += 1
        if not ok:
            totals.errors += 1
            second.errors += 1

    def record_many(
        self, name: str, class_name: str, latencies_s: np.ndarray, ok: bool, status: int | str, second: int
    ) -> None:
        """``record`` of each latency (seconds, a float array), all with one outcome and in one second: what
        k6's reader gathers per chunk, for a numpy pass per histogram instead of two Python calls a request."""
        totals = self.endpoints.get((self.scenario, name))
        if totals is None:
            totals = self._totals(name, class_name)
        values = np.clip((latencies_s * 1_000_000).astype(np.int64), 1, _MAX_US)  # ``_to_us`` of each
        count = len(values)
        record_many_us(totals.hist, values)
        totals.count += count
        totals.statuses[status] += count
        bucket = self._bucket(second, class_name)
        record_many_us(bucket.hist, values)
        bucket.requests += count
        if not ok:
            totals.errors += count
            bucket.errors += count

    def record_iteration(self) -> None:
        """One iteration of this recorder's scenario ran (to its end or restarted)."""
        self.iterations[self.scenario] = self.iterations.get(self.scenario, 0) + 1

    def record_checks(self, name: str, class_name: str, passed: int, failed: int) -> None:
        """Count the declarative checks evaluated on one response of ``name``."""
        totals = self.endpoints.get((self.scenario, name))
        if totals is None:
            totals = self._totals(name, class_name)
        totals.checks_passed += passed
        totals.checks_failed += failed

    def record_dropped(self, name: str, class_name: str, elapsed_s: float) -> None:
        """Record a send the generator could not make on time (open model)."""
        totals = self.endpoints.get((self.scenario, name))
        if totals is None:
            totals = self._totals(name, class_name)
        totals.dropped += 1
        self._bucket(int(elapsed_s), class_name).dropped += 1

    def set_active_vus(self, elapsed_s: float, vus: int) -> None:
        second = int(elapsed_s)
        self.active_vus[second] = max(vus, self.active_vus.get(second, 0))
        key = (second, self.scenario)
        self.scenario_vus[key] = max(vus, self.scenario_vus.get(key, 0))

    def seal_before(self, second: int) -> None:
        """Encode and free the live histograms of every second before ``second``."""
        for (t, _, _), bucket in self.seconds.items():
            if self._sealed_before <= t < second and bucket.encoded is None:
                bucket.encoded = _encode(bucket.hist)
                # hdrh's histogram and its encoder refer to each other: cut, the histogram (26 KB of counts) is
                # freed now, not at the next full collection (the k6 reader's RSS grew 38 KB a second without)
                bucket.hist.encoder = None
                bucket.hist = None
        self._sealed_before = max(self._sealed_before, second)

    def _totals(self, name: str, class_name: str) -> EndpointTotals:
        group, tags = self.labels.get(name, ("", self.tags))
        totals = self.endpoints[(self.scenario, name)] = EndpointTotals(
            class_name, name=name, scenario=self.scenario, group=group, tags=tags
        )
        return totals

    def _bucket(self, second: int, class_name: str) -> SecondBucket:
        key = (second, class_name, self.scenario)
        bucket = self.seconds.get(key)
        if bucket is None:
            bucket = self.seconds[key] = SecondBucket()
        elif bucket.hist is None:  # a late completion for a sealed second: reopen it
            bucket.hist = _decode(bucket.encoded)
            bucket.encoded = None
        return bucket

    @property
    def scenarios(self) -> list[str]:
        """The scenarios recorded, sorted."""
        return sorted({t.scenario for t in self.endpoints.values()} | {s for _, _, s in self.seconds})

    @property
    def named_scenarios(self) -> bool:
        """True when the run had scenarios of its own (not only the implicit one)."""
        return any(s != DEFAULT_SCENARIO for s in self.scenarios)

    # -- serialisation and merging --------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "endpoints": [
                {
                    "name": t.name,
                    "class_name": t.class_name,
                    "scenario": t.scenario,
                    "group": t.group,
                    "tags": dict(t.tags),
                    "count": t.count,
                    "errors": t.errors,
                    "dropped": t.dropped,
                    "statuses": {str(k): v for k, v in t.statuses.items()},
                    "checks_passed": t.checks_passed,
                    "checks_failed": t.checks_failed,
                    "hist": _encode(t.hist),
                }
                for t in self.endpoints.values()
            ],
            "seconds": [
                {
                    "t": t,
                    "class_name": class_name,
                    "scenario": scenario,
                    "requests": b.requests,
                    "errors": b.errors,
                    "dropped": b.dropped,
                    "hist": b.encoded if b.hist is None else _encode(b.hist),
                }
                for (t, class_name, scenario), b in sorted(self.seconds.items())
            ],
            "active_vus": {str(t): v for t, v in sorted(self.active_vus.items())},
            "scenario_vus": [[t, s, v] for (t, s), v in sorted(self.scenario_vus.items())],
            "iterations": dict(self.iterations),
        }

    @classmethod
    def from_dict(cls, data: dict) -> MetricsRecorder:
        """A recorder from ``to_dict`` (also one written before scenarios existed: all ``default``, or before
        ``class_name`` was renamed from ``klass``)."""
        recorder = cls()
        for e in data["endpoints"]:
            scenario = e.get("scenario", DEFAULT_SCENARIO)
            recorder.endpoints[(scenario, e["name"])] = EndpointTotals(
                class_name=class_of(e),
                hist=_decode(e["hist"]),
                count=e["count"],
                errors=e["errors"],
                dropped=e.get("dropped", 0),
                statuses=Counter(e["statuses"]),
                name=e["name"],
                scenario=scenario,
                group=e.get("group", ""),
                tags=tuple(sorted((e.get("tags") or {}).items())),
                checks_passed=e.get("checks_passed", 0),
                checks_failed=e.get("checks_failed", 0),
            )
        for s in data["seconds"]:
            recorder.seconds[(s["t"], class_of(s), s.get("scenario", DEFAULT_SCENARIO))] = SecondBucket(
                hist=None,
                requests=s["requests"],
                errors=s["errors"],
                dropped=s["dropped"],
                encoded=s["hist"],
            )
        recorder.active_vus = {int(t): v for t, v in data["active_vus"].items()}
        if "scenario_vus" in data:
            recorder.scenario_vus = {(int(t), s): v for t, s, v in data["scenario_vus"]}
        else:
            recorder.scenario_vus = {(t, DEFAULT_SCENARIO): v for t, v in recorder.active_vus.items()}
        recorder.iterations = dict(data.get("iterations") or {})
        return recorder

    @classmethod
    def merge(cls, recorders: list[MetricsRecorder]) -> MetricsRecorder:
        """Exact merge of shards and scenarios: counts add, histograms add, active users add per second."""
        merged = cls()
        for rec in recorders:
            for key, t in rec.endpoints.items():
                into = merged.endpoints.get(key)
                if into is None:
                    into = merged.endpoints[key] = EndpointTotals(
                        t.class_name, name=t.name, scenario=t.scenario, group=t.group, tags=t.tags
                    )
                into.hist.add(t.hist)
                into.count += t.count
                into.errors += t.errors
                into.dropped += t.dropped
                into.checks_passed += t.checks_passed
                into.checks_failed += t.checks_failed
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
            for key, vus in rec.scenario_vus.items():
                merged.scenario_vus[key] = merged.scenario_vus.get(key, 0) + vus
            for scenario, n in rec.iterations.items():
                merged.iterations[scenario] = merged.iterations.get(scenario, 0) + n
        return merged

    # -- tidy frames ----------------------------------------------------------------------
    def stats_frame(self, duration_s: float) -> pd.DataFrame:
        """One row per endpoint, per class and for the total, with latency percentiles in ms; with
        named scenarios also one per scenario, and one per group and per tag value when there are any.

        ``scope`` is ``endpoint`` (``name`` the step, ``scenario``, ``group_name`` and ``tags`` its
        own), ``class``, ``total``, ``scenario``, ``group`` (``name`` the group, within ``scenario``)
        or ``tag`` (``name`` is ``key=value``, ``tags`` that one pair). Rows that span scenarios have
        ``scenario == "all"``.
        """
        rows = []
        by_class: dict[str, list[EndpointTotals]] = {}
        by_scenario: dict[str, list[EndpointTotals]] = {}
        by_group: dict[tuple[str, str], list[EndpointTotals]] = {}
        by_tag: dict[tuple[str, str], list[EndpointTotals]] = {}
        for t in sorted(self.endpoints.values(), key=lambda e: (e.scenario, e.name)):
            rows.append(
                _stats_row("endpoint", t.name, t.class_name, [t], duration_s, t.scenario, t.group, dict(t.tags))
            )
            by_class.setdefault(t.class_name, []).append(t)
            by_scenario.setdefault(t.scenario, []).append(t)
            if t.group:
                by_group.setdefault((t.scenario, t.group), []).append(t)
            for pair in t.tags:
                by_tag.setdefault(pair, []).append(t)
        for class_name, group in sorted(by_class.items()):
            rows.append(_stats_row("class", class_name, class_name, group, duration_s))
        if self.endpoints:
            rows.append(_stats_row("total", ALL, ALL, list(self.endpoints.values()), duration_s))
        if self.named_scenarios:
            for scenario, group in sorted(by_scenario.items()):
                rows.append(_stats_row("scenario", scenario, ALL, group, duration_s, scenario))
        for (scenario, name), group in sorted(by_group.items()):
            rows.append(_stats_row("group", name, ALL, group, duration_s, scenario, name))
        for (key, value), group in sorted(by_tag.items()):
            rows.append(_stats_row("tag", f"{key}={value}", ALL, group, duration_s, ALL, "", {key: value}))
        return pd.DataFrame(rows, columns=STATS_COLUMNS)

    def timeseries_frame(self) -> pd.DataFrame:
        """One row per second and class, plus an ``all`` row per second (``scenario == "all"``); with
        named scenarios also the same rows per scenario (``scenario`` its name)."""
        per_second: dict[int, dict[tuple[str, str], SecondBucket]] = {}
        for (t, class_name, scenario), b in self.seconds.items():
            per_second.setdefault(t, {})[(scenario, class_name)] = b
        seconds = sorted(set(per_second) | set(self.active_vus))
        by_scenario = self.named_scenarios
        rows = []
        for t in seconds:
            buckets = per_second.get(t, {})
            hists = {key: b.hist if b.hist is not None else _decode(b.encoded) for key, b in buckets.items()}
            rows += _second_rows(t, ALL, self.active_vus.get(t, 0), buckets, hists)
            if by_scenario:
                for scenario in self.scenarios:
                    mine = {key: b for key, b in buckets.items() if key[0] == scenario}
                    rows += _second_rows(t, scenario, self.scenario_vus.get((t, scenario), 0), mine, hists)
        return pd.DataFrame(rows, columns=TIMESERIES_COLUMNS)


def overall(timeseries: pd.DataFrame) -> pd.DataFrame:
    """The rows of a ``timeseries_frame`` that span every scenario (all of a frame without the column)."""
    if "scenario" not in timeseries.columns:
        return timeseries
    return timeseries[timeseries["scenario"] == ALL]


def scenario_endpoints(stats: pd.DataFrame) -> pd.DataFrame:
    """The endpoint rows of a ``stats_frame``, each ``name`` prefixed ``scenario: `` when the step
    belongs to a named scenario (so names are unique across the run)."""
    rows = stats[stats["scope"] == "endpoint"].copy()
    if "scenario" in rows.columns:
        named = rows["scenario"].notna() & ~rows["scenario"].isin([DEFAULT_SCENARIO, ALL])
        if named.any():
            rows.loc[named, "name"] = rows.loc[named, "scenario"].astype(str) + ": " + rows.loc[named, "name"]
    return rows


def _second_rows(
    t: int, scenario: str, active_vus: int, buckets: dict[tuple[str, str], SecondBucket], hists: dict
) -> list[dict]:
    """Rows of one second: per class, then the ``all`` row, over ``buckets`` ((scenario, class_name) keyed)."""
    by_class: dict[str, list[tuple[str, str]]] = {}
    for key in sorted(buckets):
        by_class.setdefault(key[1], []).append(key)
    rows = []
    total = SecondBucket()
    for class_name, keys in sorted(by_class.items()):
        if len(keys) == 1:
            b, hist = buckets[keys[0]], hists[keys[0]]
        else:
            b = SecondBucket()
            for key in keys:
                _add(b, buckets[key], hists[key])
            hist = b.hist
        rows.append(_second_row(t, scenario, class_name, None, b, hist))
        _add(total, b, hist)
    rows.append(_second_row(t, scenario, ALL, active_vus, total, total.hist))
    return rows


def _add(into: SecondBucket, b: SecondBucket, hist: HdrHistogram) -> None:
    into.hist.add(hist)
    into.requests += b.requests
    into.errors += b.errors
    into.dropped += b.dropped


def us_to_ms(value: float) -> float:
    """Microseconds as milliseconds, to the microsecond."""
    return round(value / 1000.0, 3)


WHOLE_SELECTOR_SCOPE = "class"  # a threshold selector's row is checked as a class row is


def stats_row(scope: str, name: str, class_name: str, group: list[EndpointTotals], duration_s: float) -> dict:
    """One stats row over ``group`` (e.g. the endpoints a threshold selector picks)."""
    return _stats_row(scope, name, class_name, group, duration_s)


def _stats_row(
    scope: str,
    name: str,
    class_name: str,
    group: list[EndpointTotals],
    duration_s: float,
    scenario: str = ALL,
    group_name: str = "",
    tags: dict | None = None,
) -> dict:
    hist = new_histogram()
    statuses: Counter = Counter()
    count = errors = passed = failed = 0
    for t in group:
        hist.add(t.hist)
        for status, n in t.statuses.items():
            statuses[str(status)] += n
        count += t.count
        errors += t.errors
        passed += t.checks_passed
        failed += t.checks_failed
    row = {
        "scope": scope,
        "name": name,
        "class_name": class_name,
        "scenario": scenario,
        "group_name": group_name,
        "tags": json.dumps(tags or {}, sort_keys=True),
        "checks_passed": passed,
        "checks_failed": failed,
        "check_pass_rate": passed / (passed + failed) if passed + failed else float("nan"),
        "count": count,
        "errors": errors,
        "error_rate": errors / count if count else 0.0,
        "rps": count / duration_s if duration_s > 0 else 0.0,
        "status_counts": json.dumps(dict(sorted(statuses.items()))),
    }
    if count:
        latency = latency_us(hist, PERCENTILES)
        row.update(
            min_ms=us_to_ms(hist.get_min_value()),
            mean_ms=us_to_ms(latency["mean"]),
            max_ms=us_to_ms(latency["max"]),
            **{col: us_to_ms(latency[col]) for col in PERCENTILES},
        )
    else:
        row.update({col: float("nan") for col in ["min_ms", "mean_ms", "max_ms", *PERCENTILES]})
    return row


def _second_row(
    t: int, scenario: str, class_name: str, active_vus: int | None, b: SecondBucket, hist: HdrHistogram
) -> dict:
    has = b.requests > 0
    latency = latency_us(hist, _SECOND_PERCENTILES) if has else {}
    return {
        "t": t,
        "scenario": scenario,
        "class_name": class_name,
        "active_vus": active_vus,
        "requests": b.requests,
        "rps": float(b.requests),
        "errors": b.errors,
        "dropped": b.dropped,
        **{col: us_to_ms(latency[col]) if has else float("nan") for col in _SECOND_PERCENTILES},
    }


_SECOND_PERCENTILES = {"p50_ms": 50, "p95_ms": 95, "p99_ms": 99}


LEGACY_CLASS_KEY = "klass"  # what files, XComs and stored rows written before the rename call class_name


def class_of(row) -> str:
    """A row's ``class_name``, also of a row written before the rename (``klass``)."""
    return row["class_name"] if "class_name" in row else row[LEGACY_CLASS_KEY]
