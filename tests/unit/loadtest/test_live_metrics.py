"""The live Prometheus endpoint: scraped during a short run, off by default, bad addresses refused."""

import contextlib
import logging
import re
import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.loadtest.engine.live_metrics import parse_address
from tests.unit.loadtest.journey.server import JourneyServer

SCENARIO = """
metrics:
  orders_created: {type: counter}
journey:
  steps:
    - {name: order, method: POST, path: /orders, json: {item_id: 11}, expect_status: 201,
       metrics: {orders_created: 1}, think_time: 20ms}
"""


def _samples(text: str) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_run_serves_per_second_metrics_that_a_scrape_reads_while_it_goes(tmp_path, caplog):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    caplog.set_level(logging.INFO, logger="perfpipe.loadtest")
    with JourneyServer() as server:
        spec = load_spec(
            "smoke", server.url(""), path, overrides={"vus": 2, "duration": "3s", "live_metrics": "127.0.0.1:0"}
        )
        assert spec.live_metrics == "127.0.0.1:0"
        done = {}
        run = threading.Thread(target=lambda: done.setdefault("result", run_load_test(spec, processes=1)))
        run.start()
        url, scrapes = None, []
        while run.is_alive():
            if url is None:
                found = [re.search(r"http://\S+/metrics", r.getMessage()) for r in caplog.records]
                url = next((m.group(0) for m in found if m), None)
            else:
                with contextlib.suppress(httpx.HTTPError):  # the run may end and take the endpoint with it
                    scrapes.append(_samples(httpx.get(url, timeout=2).text))
            time.sleep(0.25)
        run.join()
        orders = sum(1 for method, p, _, _ in server.log if method == "POST" and p == "/orders")
    assert url and url.startswith("http://127.0.0.1:")
    live = [s for s in scrapes if s]
    assert len(live) >= 2, scrapes  # snapshots arrived once a second while the run went
    requests = [s[("perfpipe_requests_total", (("shard", "0"),))] for s in live]
    assert requests == sorted(requests) and 0 < requests[-1] <= orders
    counted = [s[("perfpipe_custom_value", (("kind", "counter"), ("metric", "orders_created"), ("shard", "0")))]
               for s in live]  # fmt: skip
    assert 0 < counted[-1] <= orders
    assert live[-1][("perfpipe_active_vus", (("shard", "0"),))] <= 2
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)  # gone with the run


def test_live_metrics_are_off_by_default_and_bad_addresses_are_refused(tmp_path):
    with JourneyServer() as server:
        assert load_spec("smoke", server.url(""), overrides={"vus": 1, "duration": "1s"}).live_metrics is None
        with pytest.raises(ValueError, match="live_metrics: expected PORT or HOST:PORT"):
            load_spec("smoke", server.url(""), overrides={"duration": "1s", "live_metrics": "localhost:99999"})
    assert parse_address("9464") == ("127.0.0.1", 9464)
    assert parse_address("0.0.0.0:9464") == ("0.0.0.0", 9464)
