"""Live abort checks judge exactly the window they name, from merged per-second histograms."""

from include.perfpipe.loadtest.engine.abort_rules import CircuitBreaker, abort_rules
from include.perfpipe.loadtest.engine.guard import breached, window_stats
from include.perfpipe.metrics import MetricsRecorder


def _recorder() -> MetricsRecorder:
    """10 s of api requests: 10 ms for seconds 0-6, 300 ms for seconds 7-9; health always 1 ms."""
    rec = MetricsRecorder()
    for second in range(10):
        for i in range(100):
            rec.record("get", "api", 0.3 if second >= 7 else 0.01, i >= 5, 200 if i >= 5 else 500, second + i / 100)
            rec.record("ping", "health", 0.001, True, 200, second + i / 100)
        rec.set_active_vus(second, 20)
    return rec


def _rule(**kw):
    return abort_rules([{"class_name": "api", "metric": "p95_ms", "operator": "<", "limit": 100, "window_s": 3, **kw}])


def test_window_stats_merge_the_named_seconds():
    rec = _recorder()
    assert (
        window_stats(rec, 7, 10, "api", "p95_ms")["p95_ms"] == window_stats(rec, 8, 9, "api", "p95_ms")["p95_ms"] > 290
    )
    assert window_stats(rec, 0, 7, "api", "p95_ms")["p95_ms"] < 11
    both = window_stats(rec, 0, 10)
    assert (both["requests"], both["errors"]) == (2000, 50)


def test_rules_breach_only_over_a_full_window_past_the_delay():
    rec = _recorder()
    assert breached(rec, 7, _rule(), None) is None  # seconds 4-6: fast
    reason = breached(rec, 10, _rule(), None)  # seconds 7-9: slow
    assert reason.startswith("abort_on_fail: p95_ms of class api") and "7-10 s" in reason
    assert breached(rec, 10, _rule(delay_s=11), None) is None
    assert breached(rec, 10, _rule(class_name="health"), None) is None
    assert "over 0-10 s" in breached(rec, 10, _rule(window_s=None), None)  # everything so far: 30 % slow
    assert breached(rec, 10, _rule(window_s=None, metric="p50_ms"), None) is None  # the median is 10 ms
    assert breached(rec, 10, _rule(metric="rps", operator=">=", limit=250), None).startswith("abort_on_fail: rps")
    assert breached(rec, 10, _rule(metric="peak_vus", operator=">=", limit=20), None) is None


def test_circuit_breaker_needs_the_rate_and_enough_requests():
    rec = _recorder()  # 5 % errors on api, 2.5 % overall
    assert breached(rec, 10, [], CircuitBreaker(error_rate=0.02, min_requests=50)).startswith("circuit breaker")
    assert breached(rec, 10, [], CircuitBreaker(error_rate=0.05, min_requests=50)) is None
    assert breached(rec, 10, [], CircuitBreaker(error_rate=0.02, min_requests=5000)) is None
