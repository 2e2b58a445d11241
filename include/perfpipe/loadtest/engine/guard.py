"""Live checks while a test runs: abort rules, the error-rate circuit breaker, progress figures.

Each looks at a trailing window of whole seconds in the shard's ``MetricsRecorder``, merging the
per-second HDR histograms (exact, never averaged percentiles).
"""

from __future__ import annotations

from include.perfpipe.loadtest.engine.abort_rules import AbortRule, CircuitBreaker
from include.perfpipe.metric_names import LATENCIES, PERCENTILES
from include.perfpipe.metrics import ALL, MetricsRecorder, _decode, new_histogram
from include.perfpipe.vocabulary import holds


def window_stats(
    recorder: MetricsRecorder, first: int, last: int, class_name: str = ALL, metric: str | None = None
) -> dict:
    """requests, errors, error_rate and (when asked) one latency ``metric`` in ms over seconds
    ``first`` to ``last - 1``. Computing only what is asked keeps the event loop free."""
    hist = new_histogram(2) if metric in LATENCIES else None
    requests = errors = 0
    class_names = {e.class_name for e in recorder.endpoints.values()} if class_name == ALL else {class_name}
    scenarios = {e.scenario for e in recorder.endpoints.values()}
    keys = [(k, s) for k in class_names for s in scenarios]
    for t in range(first, last):
        for k, s in keys:
            bucket = recorder.seconds.get((t, k, s))
            if bucket is None:
                continue
            if hist is not None:
                hist.add(bucket.hist if bucket.hist is not None else _decode(bucket.encoded))
            requests += bucket.requests
            errors += bucket.errors
    return _figures(hist, requests, errors, metric)


def totals_stats(recorder: MetricsRecorder, class_name: str = ALL, metric: str | None = None) -> dict:
    """The same figures as ``window_stats`` over everything recorded so far (endpoint totals)."""
    hist = new_histogram() if metric in LATENCIES else None
    requests = errors = 0
    for totals in recorder.endpoints.values():
        if class_name == ALL or totals.class_name == class_name:
            if hist is not None:
                hist.add(totals.hist)
            requests += totals.count
            errors += totals.errors
    return _figures(hist, requests, errors, metric)


def _figures(hist, requests: int, errors: int, metric: str | None) -> dict:
    stats = {"requests": requests, "errors": errors, "error_rate": errors / requests if requests else 0.0}
    if hist is not None and requests:
        if metric in PERCENTILES:
            stats[metric] = hist.get_value_at_percentile(PERCENTILES[metric]) / 1000.0
        elif metric == "mean_ms":
            stats[metric] = hist.get_mean_value() / 1000.0
        else:
            stats[metric] = hist.get_max_value() / 1000.0
    return stats


def breached(
    recorder: MetricsRecorder, second: int, rules: list[AbortRule], breaker: CircuitBreaker | None
) -> str | None:
    """Why the test must stop now (``second`` = the first second not yet complete), or None.

    A rule (normalised: ``AbortRule.normalised``) breaches when ``metric operator limit`` fails over the last
    ``window_s`` whole seconds (None: since the start), judged from ``delay_s`` and only once a full window has
    passed. The breaker trips when the error rate over its window exceeds ``error_rate`` with at least
    ``min_requests`` requests.
    """
    for rule in rules:
        window = rule.window_s
        if second < max(rule.delay_s or 0.0, window or 1):
            continue
        first = 0 if window is None else second - int(window)
        if window is None:
            stats = totals_stats(recorder, rule.class_name, rule.metric)
        else:
            stats = window_stats(recorder, first, second, rule.class_name, rule.metric)
        stats["rps"] = stats["requests"] / (second - first)
        stats["peak_vus"] = max((v for t, v in recorder.active_vus.items() if first <= t < second), default=0)
        observed = stats.get(rule.metric)
        if (
            observed is not None
            and (stats["requests"] or rule.metric in ("rps", "peak_vus"))
            and not holds(rule.operator, observed, rule.limit)
        ):
            return (
                f"abort_on_fail: {rule.metric} of class {rule.class_name} was {observed:.4g} over "
                f"{first}-{second} s, breaking '{rule.operator} {rule.limit:g}'"
                + (f" (suite {rule.suite})" if rule.suite else "")
            )
    if breaker:
        window = int(breaker.window_s)
        if second >= window:
            stats = window_stats(recorder, second - window, second)
            if stats["requests"] >= breaker.min_requests and stats["error_rate"] > breaker.error_rate:
                return (
                    f"circuit breaker: error rate {stats['error_rate']:.1%} over {second - window}-{second} s "
                    f"({stats['errors']}/{stats['requests']}), above {breaker.error_rate:.0%}"
                )
    return None
