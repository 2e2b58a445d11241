"""tests/busy_machine.py knows the health rule's own words: a loop-lag reason passes, any other does not."""

import pytest
from hdrh.histogram import HdrHistogram

from include.perfpipe.loadtest.engine.health import generator_health
from tests.busy_machine import only_busy_machine, verdict_unless_busy

INVALID = ": the numbers say nothing about the target"  # validate.py's ending of an invalid verdict's reason


def _health_reasons(reasons: list[str]) -> list[str]:
    lag = HdrHistogram(1, 60_000_000, 2)
    lag.record_value(50_400, 100)  # 50.4 ms, as in the make test that failed
    return generator_health(lag, 20.0, paced=False, reasons=reasons)["reasons"]


def test_the_loop_lag_alone_is_a_busy_machine():
    [lag] = _health_reasons([])
    assert only_busy_machine(lag + INVALID) and only_busy_machine(f"{lag}; DB benchmark: {lag}{INVALID}")
    assert verdict_unless_busy("invalid", lag + INVALID, "pass") is False
    assert verdict_unless_busy("pass", "all thresholds met", "pass") is True
    assert only_busy_machine(f"{lag}; part 1 started 13.3 s after the common start_at{INVALID}")


@pytest.mark.parametrize(
    "verdict, reason",
    [
        ("invalid", "; ".join(_health_reasons(["3 sends dropped"])) + INVALID),
        ("fail", "api p95 812 ms > 500 ms"),
        ("error", "target unreachable"),
    ],
)
def test_anything_the_run_did_is_not(verdict, reason):
    with pytest.raises(AssertionError, match="expected pass, or invalid for a busy machine"):
        verdict_unless_busy(verdict, reason, "pass")
