"""The recorder's inlined histogram recording is hdrh's own, value for value."""

import gc
import random
import weakref

import numpy as np
import pytest

from include.perfpipe.metrics import (
    _MAX_US,
    _SECOND_DIGITS,
    _TOTAL_DIGITS,
    MetricsRecorder,
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
