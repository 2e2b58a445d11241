"""When the DB benchmark client's own limits invalidate its numbers, and when they are only a note."""

import pytest

from include.perfpipe.database.benchmark import _health
from include.perfpipe.metrics import new_histogram


def lag_of(ms: float):
    histogram = new_histogram()
    for _ in range(100):
        histogram.record_value(int(ms * 1000))
    return histogram


def test_back_to_back_at_full_cpu_with_a_prompt_loop_is_valid_and_noted():
    health = _health(lag_of(0.4), cpu_percent=99.0, lost=0, paced=False)
    assert not health["saturated"] and health["reasons"] == []
    assert health["notes"] == [
        "generator CPU 99% at or above 95%: q/s is the generator's ceiling, a floor of the target's"
    ]


def test_paced_at_full_cpu_is_saturated():
    health = _health(lag_of(0.4), cpu_percent=99.0, lost=0, paced=True)
    assert health["saturated"] and "could not hold the rate" in health["reasons"][0]
    assert not health["cpu_bound"]


@pytest.mark.parametrize("paced", [False, True])
def test_a_lagging_loop_or_a_lost_connection_is_saturated_either_way(paced):
    assert _health(lag_of(80), cpu_percent=20.0, lost=0, paced=paced)["saturated"]
    assert _health(lag_of(0.4), cpu_percent=20.0, lost=1, paced=paced)["reasons"] == [
        "1 connection(s) lost during the run"
    ]


def test_an_idle_client_has_nothing_to_say():
    health = _health(lag_of(0.4), cpu_percent=30.0, lost=0, paced=False)
    assert (health["saturated"], health["reasons"], health["notes"]) == (False, [], [])


def test_the_same_rules_as_the_load_engine():
    """One set of health rules: the DB client and an HTTP generator judge the same figures alike."""
    from include.perfpipe.loadtest.health import generator_health

    for lag_ms, cpu, paced in [(0.4, 99.0, False), (0.4, 99.0, True), (80, 20.0, False), (0.4, 30.0, True)]:
        engine = generator_health(lag_of(lag_ms), cpu, paced=paced, unit="q/s")
        assert _health(lag_of(lag_ms), cpu_percent=cpu, lost=0, paced=paced) == {**engine, "dropped": 0}
