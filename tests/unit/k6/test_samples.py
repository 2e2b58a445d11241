"""k6's JSON sample lines into our frames, as the issue's table maps them (no k6 process needed)."""

import io
import json
from urllib.parse import quote

import pytest

from include.perfpipe.custom_metrics import CustomMetrics
from include.perfpipe.k6.samples import TIMING_PHASES, K6Samples, group_name
from include.perfpipe.k6.secrets import masked_document, masker, secret_forms
from include.perfpipe.loadtest.engine.abort_rules import abort_rules

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def declare(name: str, kind: str, contains: str = "default") -> bytes:
    data = {"name": name, "type": kind, "contains": contains, "thresholds": [], "submetrics": None}
    return json.dumps({"type": "Metric", "data": data, "metric": name}, separators=(",", ":")).encode() + b"\n"


def point(metric: str, value: float, at: str = "08:00:01.250000000", **tags: str) -> bytes:
    line = {"metric": metric, "type": "Point", "data": {"time": f"2027-01-15T{at}Z", "value": value, "tags": tags}}
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def request(value: float, at: str = "08:00:01.250000000", **tags: str) -> bytes:
    base = {"scenario": "default", "group": "", "status": "200", "expected_response": "true", "method": "GET"}
    return point("http_req_duration", value, at, **{**base, **tags})


# k6 declares each metric in the flush that carries its first point
BUILTINS = [declare("vus", "gauge"), declare("http_req_duration", "trend", "time"), declare("iterations", "counter")]
BUILTINS += [declare("checks", "rate"), declare("group_duration", "trend", "time")]


def stream(*lines: bytes) -> io.BufferedReader:
    """k6's output as the FIFO gives it: bytes in arbitrary pieces (a tiny buffer splits lines across reads)."""
    return io.BufferedReader(io.BytesIO(b"".join(lines)), buffer_size=7)


def read(*lines: bytes) -> K6Samples:
    samples = K6Samples(START)
    samples.read(stream(*BUILTINS, *lines))
    return samples


def test_requests_become_endpoint_rows_with_class_status_and_errors():
    samples = read(
        declare("http_req_duration", "trend", "time"),
        request(10.0, name="home", url="http://x/"),
        request(30.0, at="08:00:02.500000000", name="home", url="http://x/"),
        request(5.0, name="login", url="http://x/login", status="401", expected_response="false", **{"class": "auth"}),
        request(2.0, name="down", status="0", error_code="1211", expected_response="false"),
    )
    stats = samples.metrics().stats_frame(2.0).set_index("name")
    home = stats.loc["home"]
    assert (home["count"], home["errors"], home["class_name"]) == (2, 0, "api")  # class defaults to api
    assert home["max_ms"] == pytest.approx(30.0, rel=1e-3) and home["min_ms"] == pytest.approx(10.0, rel=1e-3)
    assert stats.loc["login", "class_name"] == "auth" and stats.loc["login", "errors"] == 1
    assert json.loads(stats.loc["login", "status_counts"]) == {"401": 1}
    assert json.loads(stats.loc["down", "status_counts"]) == {"k6 error 1211": 1}
    series = samples.metrics().timeseries_frame().query("class_name == 'all'").set_index("t")
    assert series.loc[1, "requests"] == 3 and series.loc[2, "requests"] == 1  # seconds from the common start


def test_scenarios_groups_and_own_tags_are_kept():
    samples = read(
        request(1.0, name="browse", scenario="shoppers", group="::shop::cart", team="web"),
        request(1.0, name="pay", scenario="buyers"),
        point("iterations", 1, scenario="shoppers"),
        point("iterations", 1, scenario="shoppers"),
        point("iterations", 1, scenario="buyers"),
    )
    merged = samples.metrics()
    endpoints = {(t.scenario, t.name): t for t in merged.endpoints.values()}
    browse = endpoints[("shoppers", "browse")]
    assert browse.group == "shop::cart" and dict(browse.tags) == {"team": "web"}
    assert ("buyers", "pay") in endpoints and merged.iterations == {"shoppers": 2, "buyers": 1}
    assert samples.journey.iterations == 3


def test_checks_groups_vus_and_dropped_iterations():
    samples = read(
        declare("dropped_iterations", "counter"),
        point("checks", 1, check="is 200", group="::g"),
        point("checks", 0, check="is 200", group="::g"),
        point("checks", 1, check="top"),
        point("group_duration", 12.0, group="::g"),
        point("vus", 7, at="08:00:03.000000000"),
        point("dropped_iterations", 4, scenario="open"),
    )
    assert samples.journey.checks.to_dict()["g: is 200"] == {"passed": 1, "failed": 1, "pass_rate": 0.5}
    assert samples.journey.checks.counts["top"] == [1, 0]
    assert samples.journey.summary(1.0)["groups"]["g"]["count"] == 1
    assert samples.metrics().active_vus == {3: 7}
    assert samples.dropped_total == 4 and samples.dropped == {"open": 4}


def test_custom_and_other_builtin_metrics_become_custom_metrics():
    samples = read(
        declare("wait_ms", "trend", "time"),
        declare("orders", "counter"),
        declare("ok_rate", "rate"),
        declare("queue", "gauge"),
        declare("grpc_req_duration", "trend", "time"),
        point("wait_ms", 100.0),
        point("wait_ms", 300.0),
        point("orders", 2),
        point("ok_rate", 1),
        point("ok_rate", 0),
        point("queue", 5, at="08:00:01.000000000"),
        point("queue", 3, at="08:00:02.000000000"),
        point("grpc_req_duration", 8.0),
        point("never_declared", 1.0),
    )
    frame = samples.journey.metrics.frame(2.0).set_index("name")
    assert frame.loc["wait_ms", "kind"] == "trend" and frame.loc["wait_ms", "unit"] == "ms"
    assert frame.loc["wait_ms", "mean"] == 200.0 and frame.loc["wait_ms", "max"] == 300.0
    assert frame.loc["orders", "count"] == 2 and frame.loc["ok_rate", "rate"] == 0.5
    assert frame.loc["queue", "value"] == 3 and frame.loc["grpc_req_duration", "count"] == 1
    assert "never_declared" not in frame.index


def test_lines_it_does_not_need_are_skipped_undecoded():
    not_json = b'{"metric":"http_req_waiting","type":"Point","data":{ this is not decoded\n'
    lines = (declare("http_req_waiting", "trend", "time"), not_json, point("http_reqs", 1), b"\n", request(3.0))
    samples = read(*lines)
    assert samples.bytes_read == sum(len(line) for line in (*BUILTINS, *lines))
    assert samples.requests == 1 and "http_req_waiting" not in samples.journey.metrics.metrics


def test_timing_phases_named_by_the_run_become_custom_trends():
    lines = [declare(phase, "trend", "time") for phase in TIMING_PHASES] + [declare("data_sent", "counter", "data")]
    lines += [point(phase, 2.5 * (i + 1)) for i, phase in enumerate(TIMING_PHASES)] + [point("data_sent", 90)]
    samples = K6Samples(START, carried=("http_req_waiting", "http_req_blocked"))
    samples.read(stream(*BUILTINS, *lines, request(3.0)))
    frame = samples.journey.metrics.frame(2.0).set_index("name")
    assert sorted(frame.index) == ["http_req_blocked", "http_req_waiting"] and samples.requests == 1
    assert (frame.loc["http_req_waiting", "kind"], frame.loc["http_req_waiting", "unit"]) == ("trend", "ms")
    assert frame.loc["http_req_waiting", "max"] == 12.5 and frame.loc["http_req_blocked", "max"] == 2.5


def test_a_secret_in_a_url_check_or_tag_is_masked_once_read():
    secret = "Bearer s3cret<&>"
    samples = K6Samples(START, secrets=secret_forms({"Authorization": secret}))
    lines = [request(3.0, url=f"http://x/?key={quote(secret, safe='')}", owner=secret, group=f"::{secret}")]
    lines += [point("checks", 1, group="", check=f"sees {secret}")]
    samples.read(stream(*BUILTINS, *lines))
    [row] = samples.metrics().endpoints.values()
    assert (row.name, row.group, row.tags) == ("http://x/?key=***", "***", (("owner", "***"),))
    assert json.dumps(samples.metrics().to_dict()).count("s3cret") == 0
    assert samples.journey.checks.counts == {"sees ***": [1, 0]} and samples.requests == 1


def test_a_secret_that_is_a_common_word_cannot_cut_what_is_read():
    """Masked after decoding: a secret found in k6's own JSON (keys, numbers, metric names) changes nothing."""
    samples = K6Samples(START, secrets=secret_forms({"Authorization": "e"}))
    samples.read(stream(*BUILTINS, request(3.0, name="home"), point("checks", 1, group="", check="ok")))
    [row] = samples.metrics().endpoints.values()
    assert (row.name, row.count, samples.requests) == ("hom***", 1, 1) and samples.journey.checks.counts == {
        "ok": [1, 0]
    }
    document = {"metrics": {"http_req_duration{name:e}": {"p(95)": 1.0, "thresholds": {"p(95)<5": False}}}}
    assert masked_document(document, masker(["e"])) == {
        "metrics": {"http_r***q_duration{nam***:***}": {"p(95)": 1.0, "thresholds": {"p(95)<5": False}}}
    }


def test_a_custom_trend_read_in_a_batch_equals_one_sample_at_a_time():
    values = [0.5, 12.25, 7.0, 1e13, 3.0]  # 1e13 ms is past a trend's range: invalid, as ``add`` has it
    lines = (point("wait", value, at=f"08:00:0{i}.5") for i, value in enumerate(values))
    samples = read(declare("wait", "trend", "time"), *lines)
    one_by_one = CustomMetrics({"wait": "trend"}, {"wait": "ms"})
    for i, value in enumerate(values):
        one_by_one.add("wait", value, i + 0.5)
    assert samples.journey.metrics.to_dict() == one_by_one.to_dict()


def test_group_name():
    assert group_name("::a::b") == "a::b" and group_name("") == ""


def test_progress_is_reported_from_the_readers_thread_every_interval():
    snapshots = []
    samples = K6Samples(START, snapshots.append, progress_interval_s=2.0)
    samples.read(
        stream(
            *BUILTINS,
            point("vus", 3, at="08:00:00.100000000"),
            request(1.0, at="08:00:00.500000000", name="a"),
            request(1.0, at="08:00:01.500000000", name="a", expected_response="false", status="500"),
            request(1.0, at="08:00:02.500000000", name="a"),
            request(1.0, at="08:00:03.500000000", name="a"),
            request(1.0, at="08:00:04.500000000", name="a"),
        )
    )
    assert [(s["elapsed_s"], s["requests"], s["errors"], s["vus"]) for s in snapshots] == [(2, 2, 1, 3), (4, 4, 1, 3)]
    assert snapshots[1]["rps"] == 1.0


def test_past_seconds_are_sealed_so_memory_stays_flat_and_late_samples_still_count():
    seconds = [request(1.0, at=f"08:00:{s:02d}.500000000", name="a") for s in range(10)]
    samples = read(*seconds, request(2.0, at="08:00:01.700000000", name="a"))  # a late one for second 1
    buckets = {t: b for (t, _, _), b in samples.recorder.seconds.items()}
    assert all(buckets[t].hist is None for t in range(6) if t != 1) and buckets[9].hist is not None
    series = samples.metrics().timeseries_frame().query("class_name == 'all'").set_index("t")
    assert series.loc[1, "requests"] == 2 and series["requests"].sum() == 11


def test_our_abort_rules_are_checked_each_second_as_the_engine_does():
    rule = {"suite": "errors", "class_name": "all", "metric": "error_rate", "operator": "<", "limit": 0.01}
    samples = K6Samples(START, abort_rules=abort_rules([{**rule, "window_s": 2, "delay_s": 0}]))
    failing = (request(1.0, at=f"08:00:0{s}.5", name="a", status="500", expected_response="false") for s in (0, 1))
    samples.read(stream(*BUILTINS, *failing))
    assert samples.abort_reason is None  # no whole 2 s window yet
    samples.read(stream(request(1.0, at="08:00:02.500000000", name="a")))
    assert samples.abort_reason.startswith("abort_on_fail: error_rate of class all was 1 over 0-2 s")


def test_after_a_short_read_the_reader_waits_for_the_pipe_to_fill(monkeypatch):
    waits = []
    monkeypatch.setattr("include.perfpipe.k6.samples.time.sleep", waits.append)
    samples = K6Samples(START)
    samples.read(stream(*BUILTINS, request(1.0, name="a"), request(2.0, name="a")), fill_wait_s=0.05)
    assert samples.requests == 2 and waits and set(waits) == {0.05}  # every read of 7 bytes was short
    waits.clear()
    K6Samples(START).read(stream(*BUILTINS, request(1.0, name="a")))
    assert not waits  # no wait unless asked (the runner asks)


def test_a_line_the_reader_cannot_take_stops_the_reading_not_k6():
    """The rest is drained (k6 never blocks on a full pipe) and the run is invalid: samples are missing."""
    from collections import Counter

    from include.perfpipe.k6.runner import k6_health, read_all

    broken = b'{"metric":"http_req_duration","type":"Point","data":{"time":"2027-01-15T08:00:01.2Z","val\n'
    after = [request(3.0, at="08:00:02.000000000") for _ in range(2000)]
    source = stream(*BUILTINS, request(1.0), broken, *after)
    samples = K6Samples(START)
    read_all(source, samples)
    assert source.read() == b"" and samples.failure.startswith("DecodeError")
    health = k6_health(samples, Counter(), 1.0, 10.0, False, False, None)
    assert health["saturated"] and "the sample reader failed (DecodeError" in health["reasons"][0]
