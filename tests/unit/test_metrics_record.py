"""The recorder's inlined histogram recording is hdrh's own, value for value."""

import random

import pytest

from include.perfpipe.metrics import _MAX_US, _SECOND_DIGITS, _TOTAL_DIGITS, new_histogram, record_us


@pytest.mark.parametrize("digits", [_TOTAL_DIGITS, _SECOND_DIGITS])
def test_record_us_matches_hdrh_record_value(digits):
    rng = random.Random(11)
    edges = [1, 2, 3, 1023, 1024, 1025, 2047, 2048, 4095, 4096, 65_535, 65_536, 1_000_000, _MAX_US - 1, _MAX_US]
    values = edges + [rng.randint(1, _MAX_US) for _ in range(20_000)]
    values += [int(rng.expovariate(1e-4)) + 1 for _ in range(20_000)]  # mostly small, as latencies are
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
