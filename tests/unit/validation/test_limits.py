import pytest

from include.perfpipe.limits import parse_duration_s, parse_limit


@pytest.mark.parametrize(
    "metric, value, expected",
    [
        ("p95_ms", "< 100ms", ("<", 100.0)),
        ("p95_ms", "<=1s", ("<=", 1000.0)),
        ("p99_ms", 250, ("<", 250.0)),
        ("p50_ms", "500us", ("<", 0.5)),
        ("error_rate", "1%", ("<", 0.01)),
        ("error_rate", 0.05, ("<", 0.05)),
        ("rps", ">= 1000/s", (">=", 1000.0)),
        ("rps", 50, (">=", 50.0)),
        ("peak_vus", "> 100 connections", (">", 100.0)),
    ],
)
def test_limits_convert_to_the_base_unit_and_default_operator(metric, value, expected):
    assert parse_limit(metric, value) == expected


@pytest.mark.parametrize(
    "metric, value, fragment",
    [
        ("p95_ms", "100 mins", "unknown unit for a latency metric; use one of 'ms'"),
        ("p95_ms", "5%", "unknown unit for a latency metric"),
        ("error_rate", "2", "fraction"),
        ("p95_ms", "fast", "cannot read"),
        ("p95_ms", True, "a number or a string"),
        ("p96_ms", 1, "unknown metric"),
    ],
)
def test_bad_limits_say_what_is_wrong(metric, value, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_limit(metric, value)


def test_durations():
    assert [parse_duration_s(v) for v in (30, "30s", "1m", "2 m")] == [30, 30, 60, 120]
    assert parse_duration_s(0, minimum=0) == 0
    for bad in ("0.5s", "10 parsecs", 0, None):
        with pytest.raises(ValueError):
            parse_duration_s(bad)
