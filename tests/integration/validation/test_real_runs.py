"""Validation of real runs: the load engine against a loopback server, the DB benchmark against PostgreSQL."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.runs import judge_run
from include.perfpipe.validation import Verdict, load_thresholds, validate

pytestmark = pytest.mark.integration
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def loopback_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_real_load_test_on_loopback_passes_with_steady_and_rolling_checks(tmp_path, loopback_url):
    from include.perfpipe.loadtest import load_spec, run_load_test

    stages = [{"duration": "2s", "target": 3}, {"duration": "4s", "target": 3}, {"duration": "1s", "target": 0}]
    spec = load_spec(
        "smoke", target=loopback_url, overrides={"stages": stages, "think_time": "50ms"}, allowlist="127.0.0.1"
    )
    load = run_load_test(spec, processes=1)
    assert any(s["kind"] == "hold" for s in load.stages)
    thresholds = load_thresholds(
        profile="smoke",
        overrides={"api": {"p95_ms": {"limit": "< 500ms", "windows": ["whole", "steady", "rolling_3s"]}}},
    )
    result = judge_run(load, thresholds, tmp_path)
    expected = Verdict.INVALID if load.health.get("saturated") else Verdict.PASS
    assert result.verdict == expected, result.reason
    api = result.results[(result.results["class_name"] == "api") & (result.results["metric"] == "p95_ms")]
    assert set(api["window"]) == {"whole", "steady", "rolling_3s"}
    assert (api["observed"] < 500).all() and api["success"].all()


def test_a_real_db_benchmark_fails_on_its_one_slow_query(tmp_path):
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_DSN} unavailable: {exc}")
    from include.perfpipe.database.benchmark import run_query_benchmark

    queries = [{"name": "fast", "sql": "SELECT 1", "weight": 10}, {"name": "slow", "sql": "SELECT pg_sleep(0.15)"}]
    bench = run_query_benchmark(PG_DSN, queries, connections=4, duration_s=3)
    recorder = MetricsRecorder.from_dict(bench["metrics"])
    result = validate(
        recorder.stats_frame(bench["duration_s"]),
        recorder.timeseries_frame(),
        thresholds=load_thresholds(),
        stages=bench["stages"],
        health=bench["health"],
        run_dir=tmp_path,
        recorder=recorder,
        aborted=bench["aborted"],
        abort_reason=bench["abort_reason"],
    )
    db = result.results[
        (result.results["class_name"] == "db")
        & (result.results["metric"] == "p95_ms")
        & (result.results["window"] == "whole")
    ].iloc[0]
    assert not db.success and db.observed >= 150  # the slow query, although most db calls are fast
    assert result.verdict in (Verdict.FAIL, Verdict.INVALID) and result.verdict != Verdict.PASS
    if result.verdict == Verdict.FAIL:
        assert "latency db p95_ms over whole" in result.reason
