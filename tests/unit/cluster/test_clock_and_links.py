"""Clock offset against the database (NTP-style)."""

import pytest

from include.perfpipe.store.clock import ClockOffset, best_sample


def test_offset_comes_from_the_shortest_round_trip():
    # (sent, server, received): the second sample is the tight one; server 0.25 s ahead of its midpoint
    clock = best_sample([(100.0, 100.9, 101.0), (200.0, 200.3, 200.1), (300.0, 300.0, 300.6)])
    assert clock.offset_ms == pytest.approx(250.0) and clock.rtt_ms == pytest.approx(100.0)


def test_no_samples_is_a_clear_error():
    with pytest.raises(ValueError, match="clock samples: none taken"):
        best_sample([])


def test_skew_over_the_limit_warns_either_way():
    assert ClockOffset(99.0, 1.0).warning() is None and ClockOffset(-100.0, 1.0).warning() is None
    assert ClockOffset(101.0, 2.0).warning().startswith("clock +101 ms from the database's (limit 100 ms")
    assert "-250 ms" in ClockOffset(-250.0, 2.0).warning(limit_ms=200)
