"""Real-time output while a run is going: its progress as a Prometheus endpoint (prometheus-client).

Off by default; ``LoadSpec.live_metrics`` (``--prometheus`` on the CLI, the ``prometheus`` Param) is
``HOST:PORT`` or a bare ``PORT`` on 127.0.0.1 (port 0: any free one, logged; shard i listens on PORT + i).
``run_load_test`` serves
it while its part of the run goes and updates it with every progress snapshot, once a second then.
Each shard serves its own, labelled ``shard``; sum them in PromQL. Scrape ``http://HOST:PORT/metrics``.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from include.perfpipe.custom_metrics import snapshot_value
from include.perfpipe.errors import ConfigError

log = logging.getLogger("perfpipe.loadtest")
LOOPBACK = "127.0.0.1"
LIVE_INTERVAL_S = 1.0  # progress snapshots per second while live metrics are served
_ADDRESS = re.compile(r"^(?:(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$")


def parse_address(value: str | int, field: str = "live_metrics") -> tuple[str, int]:
    """``(host, port)`` from ``"HOST:PORT"`` or ``PORT`` (host 127.0.0.1); ConfigError naming ``field``."""
    match = _ADDRESS.match(str(value).strip())
    if not match or int(match.group(2)) > 65535 or isinstance(value, bool):
        raise ConfigError(f"{field}: expected PORT or HOST:PORT (e.g. 9464 or 127.0.0.1:9464), got {value!r}")
    return (match.group(1) or LOOPBACK).strip("[]"), int(match.group(2))


class LiveCollector:
    """Turns the latest progress snapshot into metric families on every scrape."""

    def __init__(self, shard: int) -> None:
        self.shard, self.snapshot = str(shard), None

    def update(self, snapshot: dict) -> None:
        self.snapshot = snapshot  # one assignment: a scrape sees one whole snapshot

    def collect(self):
        snap = self.snapshot
        if snap is None:
            return
        labels = ["shard"]

        def gauge(name, text, value):
            family = GaugeMetricFamily(name, text, labels=labels)
            family.add_metric([self.shard], value)
            return family

        def counter(name, text, value):
            family = CounterMetricFamily(name, text, labels=labels)
            family.add_metric([self.shard], value)
            return family

        yield gauge("perfpipe_elapsed_seconds", "Seconds since the run's start", snap["elapsed_s"])
        yield gauge("perfpipe_active_vus", "Active virtual users (open model: iterations in flight)", snap["vus"])
        yield gauge("perfpipe_requests_per_second", "Requests per second over the last interval", snap["rps"])
        yield gauge("perfpipe_latency_p95_ms", "p95 latency of the last whole second, ms", snap["p95_ms"])
        yield counter("perfpipe_requests", "Requests finished", snap["requests"])
        yield counter("perfpipe_errors", "Requests failed", snap["errors"])
        yield counter("perfpipe_dropped", "Sends or iterations dropped (open model)", snap["dropped"])
        custom = snap.get("metrics") or {}
        if custom:
            samples = CounterMetricFamily(
                "perfpipe_custom_samples", "Samples of each custom metric", labels=[*labels, "metric", "kind"]
            )
            values = GaugeMetricFamily(
                "perfpipe_custom_value",
                "Custom metric: a counter's sum, a gauge's latest value, a rate's share true, a trend's mean",
                labels=[*labels, "metric", "kind"],
            )
            for name, m in sorted(custom.items()):
                samples.add_metric([self.shard, name, m["kind"]], m["samples"])
                values.add_metric([self.shard, name, m["kind"]], snapshot_value(m))
            yield samples
            yield values


@contextmanager
def serving(address: str | None, shard: int):
    """Serve live metrics at ``address`` for the block; yields the collector's ``update`` (None when off)."""
    if not address:
        yield None
        return
    host, port = parse_address(address)
    port = port + shard if port else 0  # shards on one host each get their own port
    registry = CollectorRegistry(auto_describe=False)
    collector = LiveCollector(shard)
    registry.register(collector)
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"live_metrics: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    log.info("live metrics at http://%s:%s/metrics", host, server.server_port)
    try:
        yield collector.update
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
