"""The recorder's inlined histogram recording and its vectorised percentiles and mean are hdrh's own, exactly."""

import gc
import random
import weakref

import numpy as np
import pytest

from include.perfpipe.metrics import (
    _MAX_US,
    _SECOND_DIGITS,
    _TOTAL_DIGITS,
    HdrHistogram,
    MetricsRecorder,
    latency_us,
    new_histogram,
    record_many_us,
    record_us,
)


def _values() -> list[int]:
    rng = random.Random(11)
    edges = [1, 2, 3, 1023, 1024, 1025, 2047, 2048, 4095, 4096, 65_535, 65_536, 1_000_000, _MAX_US - 1, _MAX_US]
    values = edges + [rng.randint(1, _MAX_US) for _ in range(20_000)]
    return values + [int(rng.expovariate(1e-4)) + 1 for _ in range(20_000)]  # mostly small, as latencies are


@pytest.mark.parametrize("digits", [_TOTAL_DIGITS, _SECOND_DIGITS])
def test_record_us_matches_hdrh_record_value(digits):
    values = _values()
    ours, theirs = new_histogram(digits), new_histogram(digits)
    for value in values:
        value = min(value, _MAX_US)
        record_us(ours, value)
        theirs.record_value(value)
    assert list(ours.counts) == list(theirs.counts)
    for attr in ("total_count", "min_value", "max_value"):
        assert getattr(ours, attr) == getattr(theirs, attr)
    assert ours.encode() == theirs.encode()
    assert ours.get_value_at_percentile(99) == theirs.get_value_at_percentile(99)


@pytest.mark.parametrize("digits", [_TOTAL_DIGITS, _SECOND_DIGITS])
def test_record_many_us_matches_hdrh_record_value(digits):
    values = [min(v, _MAX_US) for v in _values()]
    ours, theirs = new_histogram(digits), new_histogram(digits)
    record_many_us(ours, np.asarray(values[:100], dtype=np.int64))
    record_many_us(ours, np.asarray(values[100:], dtype=np.int64))
    for value in values:
        theirs.record_value(value)
    assert ours.encode() == theirs.encode() and ours.total_count == theirs.total_count
    assert (ours.min_value, ours.max_value) == (theirs.min_value, theirs.max_value)


def test_record_many_equals_record_one_at_a_time():
    latencies = [v / 1e6 for v in _values()[:5000]] + [0.0, 1e9]  # below 1 us and past the range: clipped alike
    one, many = MetricsRecorder(), MetricsRecorder()
    for latency in latencies:
        one.record("a", "api", latency, False, 503, 7.9)
    many.record_many("a", "api", np.asarray(latencies), False, 503, 7)
    assert one.stats_frame(8.0).equals(many.stats_frame(8.0))
    assert one.timeseries_frame().equals(many.timeseries_frame())


def test_a_sealed_seconds_histogram_is_freed_at_once_without_the_cycle_collector():
    recorder = MetricsRecorder()
    recorder.record("a", "api", 0.002, True, 200, 0.5)
    freed = weakref.ref(recorder.seconds[(0, "api", "default")].hist)
    gc.disable()
    try:
        recorder.seal_before(1)
        assert freed() is None
    finally:
        gc.enable()
    assert recorder.timeseries_frame().query("class_name == 'all'").set_index("t").loc[0, "p50_ms"] > 0  # encoded


@pytest.mark.parametrize("digits", [_TOTAL_DIGITS, _SECOND_DIGITS])
@pytest.mark.parametrize("values", [[7], [1, _MAX_US], "latencies", "spread"])
def test_latency_us_is_hdrh_percentile_mean_and_max(digits, values):
    rng = random.Random(digits)
    if values == "latencies":
        values = [int(rng.lognormvariate(10, 0.5)) + 1 for _ in range(3_000)]
    elif values == "spread":
        values = [rng.randint(1, _MAX_US) for _ in range(3_000)]
    hist = new_histogram(digits)
    for value in values:
        record_us(hist, min(value, _MAX_US))
    hist = HdrHistogram.decode(hist.encode())  # what the store and the recorder's sealed seconds read back
    percentiles = {"p1": 1, "p50": 50, "p95": 95, "p99.9": 99.9, "p100": 100}
    got = latency_us(hist, percentiles)
    assert {name: got[name] for name in percentiles} == {
        n: hist.get_value_at_percentile(p) for n, p in percentiles.items()
    }
    assert got["mean"] == hist.get_mean_value()
    assert got["max"] == hist.get_max_value()
