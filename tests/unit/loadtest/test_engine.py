"""The engine against a loopback server: both models, exact counts, aborts, allowlist, stalls, drops.

Every run is bounded (a few seconds, a handful of VUs) and asserts loose bounds only.
"""

import gc
import os
import threading
import time

import pytest

from include.perfpipe.loadtest import (
    TargetNotAllowed,
    TargetUnreachable,
    load_spec,
    merge_results,
    run_load_test,
)
from include.perfpipe.loadtest.clients.choice import HttpClients
from include.perfpipe.loadtest.engine import runner
from include.perfpipe.loadtest.engine.generator import RUN_GC_YOUNG, gc_after_run, gc_for_run
from include.perfpipe.loadtest.engine.runner import run_part
from tests.busy_machine import only_busy_machine
from tests.unit.loadtest.server import LoopbackServer


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


def _total(result):
    return result.stats_frame().set_index("name").loc["all"]


def test_closed_model_counts_every_response(server):
    progress = []
    spec = load_spec("smoke", server.url("/sleep/20"), overrides={"vus": 4, "duration": "2s", "progress_interval": 1})
    result = run_load_test(spec, processes=1, progress=progress.append)
    total = _total(result)
    assert total["count"] == server.requests > 0 and total["errors"] == 0
    # closed model, whatever the machine's speed: a VU sends again only once answered, so the server never
    # answers more than the 4 at once, none faster than its 20 ms, and 4 VUs fit at most 2 s / 20 ms each
    # (+ 1 in flight at the end)
    assert server.peak_answering <= 4 and total["min_ms"] >= 20 and total["count"] <= 4 * (2 / 0.020 + 1)
    series = result.timeseries_frame()
    assert set(series[(series.class_name == "all") & (series.t < 2)].active_vus) == {4}
    assert progress and {"elapsed_s", "vus", "rps", "p95_ms", "errors", "dropped"} <= set(progress[0])
    assert not result.aborted and result.duration_s == 2.0


def test_closed_model_ramps_vus(server):
    stages = [{"duration": "2s", "target": 6}, {"duration": "1s", "target": 6}]  # 0 -> 6 over 2 s, then held
    spec = load_spec("smoke", server.url("/sleep/10"), overrides={"stages": stages, "progress_interval": 10})
    series = run_load_test(spec, processes=1).timeseries_frame()
    vus = series[series.class_name == "all"].set_index("t").active_vus
    # a second's sample is its highest level: at most the ramp's level at that second's end (3 at 1 s); the
    # held second gives the 6 even when a busy machine delays the ticks near the ramp's top
    assert vus[0] <= 3 and vus.max() == 6 and server.peak_answering <= 6


def test_open_model_sends_every_arrival(server):
    spec = load_spec("smoke", server.url("/sleep/5"), overrides={"rate": 100, "duration": "2s", "max_vus": 20})
    result = run_load_test(spec, processes=1)
    total, dropped, reasons = _total(result)["count"], result.health["dropped"], result.health["reasons"]
    assert total + dropped == 200 and total == server.requests  # 100/s for 2 s: each sent (late ones too) or dropped
    # 20 reused connections carry 100/s of 5 ms requests: none dropped, unless the engine saw its own loop held up
    # (a busy machine) long enough to bunch the arrivals
    held_up = any(only_busy_machine(reason) for reason in reasons)
    assert dropped == 0 or held_up
    assert all(only_busy_machine(reason) or (held_up and "sends dropped" in reason) for reason in reasons)


def test_open_model_counts_dropped_sends(server):
    # 2 connections at 100 ms each carry 20 req/s; 100 req/s are asked for
    spec = load_spec("smoke", server.url("/sleep/100"), overrides={"rate": 100, "duration": "2s", "max_vus": 2})
    result = run_load_test(spec, processes=1)
    total, dropped = _total(result)["count"], result.health["dropped"]
    assert total + dropped == 200 and 100 <= dropped < 200 and total == server.requests
    reasons = result.health["reasons"]  # a busy machine's loop lag comes first
    others = [reason for reason in reasons if not only_busy_machine(reason)]
    assert result.health["saturated"] and len(others) == 1 and others[0].startswith(f"{dropped} sends dropped")
    assert result.timeseries_frame().query("class_name == 'all'").dropped.sum() == dropped


def test_open_model_shows_a_stall_the_closed_model_hides():
    # the server freezes 1 s, from 1 s to 2 s into a 3 s run; latency runs from the intended send time
    with LoopbackServer(stall_every_s=100, stall_s=1.0, stall_offset_s=1.0) as srv:
        spec = load_spec("smoke", srv.url("/stall"), overrides={"rate": 100, "duration": "3s", "max_vus": 200})
        start_at = srv.started + (time.time() - time.monotonic())  # the server's clock start, as epoch
        open_p99 = _total(run_load_test(spec, processes=1, start_at=start_at))["p99_ms"]
    with LoopbackServer(stall_every_s=100, stall_s=1.0, stall_offset_s=1.0) as srv:
        spec = load_spec("smoke", srv.url("/stall"), overrides={"vus": 1, "duration": "3s"})
        closed_p99 = _total(run_load_test(spec, processes=1, start_at=srv.started + (time.time() - time.monotonic())))[
            "p99_ms"
        ]
    assert open_p99 >= 500 and closed_p99 < 500  # one slow request among thousands: hidden


def test_shards_merge_exactly(server):
    spec = load_spec("smoke", server.url("/ok"), overrides={"vus": 5, "duration": "1s"})
    start_at, results = time.time() + 0.5, [None, None]

    def run(index):
        results[index] = run_part(spec, HttpClients, index, 2, start_at)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.timeseries_frame().query("class_name == 'all'").active_vus.max() for r in results) == [2, 3]
    merged = merge_results(results)
    assert _total(merged)["count"] == sum(_total(r)["count"] for r in results) == server.requests


def test_abort_on_fail_stops_early(server):
    rule = {"class_name": "all", "metric": "p95_ms", "operator": "<", "limit": 10, "window_s": 1, "delay_s": 1}
    spec = load_spec("smoke", server.url("/sleep/30"), overrides={"vus": 2, "duration": "20s", "abort_rules": [rule]})
    reasons = []
    result = run_load_test(spec, processes=1, on_abort=reasons.append)
    assert result.aborted and "p95_ms" in result.abort_reason and "< 10" in result.abort_reason
    # on the engine's clock: delay + window + a tick and a half, held up at most by the loop lag it measured
    assert result.duration_s <= 1 + 1 + 1.5 + result.health["loop_lag_max_ms"] / 1000, result.duration_s
    assert reasons == [result.abort_reason]


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("stopped: shard 1 aborted: target on fire", "stopped: shard 1 aborted: target on fire"),
        (True, "stopped: another part of this run aborted"),
    ],
)
def test_should_stop_ends_the_run_with_its_reason(server, answer, reason):
    spec = load_spec("smoke", server.url("/ok"), overrides={"vus": 2, "duration": "20s"})
    stop_after = time.monotonic() + 1
    result = run_load_test(spec, processes=1, should_stop=lambda: answer if time.monotonic() > stop_after else None)
    assert result.aborted and result.abort_reason == reason and 0.5 < result.duration_s < 5


def test_error_circuit_breaker_stops_early(server):
    spec = load_spec(
        "smoke",
        server.url("/status/500"),
        overrides={
            "vus": 2,
            "duration": "20s",
            "circuit_breaker": {"error_rate": 0.5, "window_s": 1, "min_requests": 10},
        },
    )
    result = run_load_test(spec, processes=1)
    assert result.aborted and result.abort_reason.startswith("circuit breaker") and result.duration_s < 5
    assert _total(result)["error_rate"] == 1.0 and '"500"' in _total(result)["status_counts"]


def test_disallowed_target_is_refused_before_any_request(server):
    spec = load_spec("smoke", server.url("/ok"), overrides={"vus": 1, "duration": "1s"})
    spec.allowlist = ["localhost"]  # e.g. an Airflow Variable that does not list 127.0.0.1
    with pytest.raises(TargetNotAllowed, match="127.0.0.1"):
        run_load_test(spec, processes=1)
    assert server.requests == 0


def test_unreachable_target_is_an_error(server):
    port = server.port
    server.__exit__()
    spec = load_spec("smoke", f"http://127.0.0.1:{port}/", overrides={"vus": 1, "duration": "1s"})
    with pytest.raises(TargetUnreachable, match=f"127.0.0.1:{port}"):
        run_load_test(spec, processes=1)


def test_errors_and_timeouts_are_recorded_by_name(server):
    spec = load_spec("smoke", server.url("/sleep/2000"), overrides={"vus": 2, "duration": "1s", "timeout": "300ms"})
    total = _total(run_load_test(spec, processes=1))
    assert total["errors"] == total["count"] > 0 and "ReadTimeout" in total["status_counts"]


def test_scenario_weights_classes_and_think_time(server, tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "think_time: 50ms\n"
        "endpoints:\n"
        "  - {name: ping, path: /ok, class: health, weight: 3}\n"
        "  - {name: create, method: POST, path: /status/201, class: api, weight: 1, expect_status: 201,\n"
        "     json: {name: x}}\n"
    )
    spec = load_spec("smoke", server.url(""), scenario, overrides={"vus": 4, "duration": "2s"})
    stats = run_load_test(spec, processes=1).stats_frame().set_index("name")
    ping, create = stats.loc["ping"], stats.loc["create"]
    assert ping["count"] + create["count"] == server.requests and stats.loc["all"]["errors"] == 0
    assert 1.5 <= ping["count"] / create["count"] <= 6  # weights 3:1
    assert set(stats[stats.scope == "class"].index) == {"api", "health"}
    assert stats.loc["all"]["count"] <= 4 * 2 / 0.05  # every VU pauses 50 ms after each response


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"processes": 0}, r"processes: expected an integer >= 1 or 'auto', got 0"),
        ({"shard_count": 2, "shard_index": 2}, r"shard_index: expected 0 <= shard_index < 2, got 2"),
        ({"shard_count": 0}, r"shard_count: expected an integer >= 1, got 0"),
    ],
)
def test_bad_run_arguments_are_refused_before_any_request(server, kwargs, message):
    spec = load_spec("smoke", server.url("/ok"), overrides={"vus": 1, "duration": "1s"})
    with pytest.raises(ValueError, match=message):
        run_load_test(spec.to_dict(), **kwargs)
    assert server.requests == 0


@pytest.mark.parametrize("path", ["/close", "/chunked"])
def test_connection_close_and_chunked_responses_end_to_end(server, path):
    spec = load_spec("smoke", server.url(path), overrides={"vus": 2, "duration": "1s"})
    total = _total(run_load_test(spec, processes=1))
    assert total["count"] == server.requests > 10 and total["errors"] == 0


def _self_signed(tmp_path):
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def test_https_verifies_certificates_unless_told_not_to(tmp_path):
    with LoopbackServer(ssl_context=_self_signed(tmp_path)) as srv:
        url = srv.url("/ok")
        verified = _total(run_load_test(load_spec("smoke", url, overrides={"vus": 1, "duration": "1s"}), processes=1))
        trusting = _total(
            run_load_test(
                load_spec("smoke", url, overrides={"vus": 2, "duration": "1s", "verify_tls": False}), processes=1
            )
        )
    assert verified["errors"] == verified["count"] > 0 and "ConnectError" in verified["status_counts"]
    assert trusting["errors"] == 0 and trusting["count"] > 10


def test_the_parent_ends_a_worker_that_overruns_the_run_deadline(server, monkeypatch):
    monkeypatch.setattr(runner, "WORKER_MODULE", "tests.unit.loadtest.stuck_worker")
    monkeypatch.setattr(runner, "RUN_GRACE_S", 1.0)
    spec = load_spec("smoke", server.url("/ok"), overrides={"vus": 2, "duration": "1s", "timeout": "1s"})
    started = time.monotonic()
    result = run_load_test(spec, processes=2)
    # the stuck part sleeps an hour and ignores stop requests: only the parent's deadline ends the run this soon
    assert time.monotonic() - started < 60
    assert result.health["saturated"] and result.health["processes"] == 1
    # a busy machine may add a loop-lag reason; the deadline's must be there, and be the only one about a part
    deadline = "part 1 did not finish by the run deadline and was ended: its share is missing"
    assert [reason for reason in result.health["reasons"] if reason.startswith("part ")] == [deadline]
    assert _total(result)["count"] > 0


@pytest.mark.parametrize("model, saturated", [("closed", False), ("open", True)])
def test_full_cpu_is_a_note_in_the_closed_model_and_saturation_in_the_open(server, model, saturated):
    overrides = {"vus": 2} if model == "closed" else {"rate": 50, "max_vus": 5}
    spec = load_spec("smoke", server.url("/ok"), overrides={**overrides, "duration": "1s"})
    spec.cpu_bound_percent = 0.0  # any CPU counts as full
    health = run_load_test(spec, processes=1).health
    # on a busy machine the loop lag may saturate either run too: only the CPU's part is asserted
    assert any("CPU" in reason for reason in health["reasons"]) == saturated
    assert health["cpu_bound"] == (model == "closed") and (health["saturated"] or not saturated)
    assert bool(health["notes"]) == (model == "closed")
    assert all("ceiling" in note for note in health["notes"])


def test_processes_auto_is_one_per_usable_core():
    assert runner.resolve_processes("auto") == len(os.sched_getaffinity(0))


def test_processes_auto_leaves_no_process_without_a_vu(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert runner.resolve_processes("auto", vus=1) == 1  # 2 VUs over 2 shards: one process a shard
    assert runner.resolve_processes("auto", vus=3) == 3
    assert runner.resolve_processes("auto", vus=500) == 4
    assert runner.resolve_processes("auto", vus=0) == 1
    assert runner.resolve_processes(3, vus=1) == 3  # an explicit count is the user's
    assert runner.resolve_processes(3) == 3


def test_a_worker_line_that_only_looks_like_json_is_counted_and_the_run_goes_on(server, monkeypatch):
    monkeypatch.setattr(runner, "WORKER_MODULE", "tests.unit.loadtest.chatty_worker")
    spec = load_spec("smoke", server.url("/ok"), overrides={"vus": 2, "duration": "1s"})
    result = run_load_test(spec, processes=2)  # one process runs in this one, without a worker
    assert _total(result)["count"] > 0 and result.health["processes"] == 2  # both readers read their results
    assert "2 line(s) of worker output looked like JSON but were not (logged, ignored)" in result.health["notes"]


def test_responses_read_in_one_loop_pass_share_the_pass_clock():
    """A burst of responses read in one pass is timed to the pass, not to each one's callback."""
    import asyncio

    from include.perfpipe.loadtest.clients.endpoints import FlatEndpoints

    process = FlatEndpoints(load_spec("smoke", "http://127.0.0.1:9/"))

    async def passes():
        process.loop = asyncio.get_running_loop()
        first = process.response_clock()
        time.sleep(0.002)  # the callback of an earlier response in the same pass is slow
        same_pass = process.response_clock()
        await asyncio.sleep(0)  # the next pass
        return first, same_pass, process.response_clock()

    first, same_pass, next_pass = asyncio.run(passes())
    assert same_pass == first and next_pass >= first + 0.002


def test_the_collector_is_frozen_and_lazy_while_a_run_sends_and_restored_after(server):
    seen = []

    def progress(_snapshot):
        seen.append((gc.get_threshold()[0], gc.get_freeze_count()))

    before = gc.get_threshold()
    spec = load_spec("smoke", server.url("/sleep/5"), overrides={"vus": 2, "duration": "1.5s", "progress_interval": 1})
    run_load_test(spec, processes=1, progress=progress)
    assert seen and all(young == RUN_GC_YOUNG and frozen > 0 for young, frozen in seen)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_collector_is_restored_by_the_last_of_overlapping_runs():
    before = gc.get_threshold()
    gc_for_run()
    gc_for_run()  # a second part or shard of the interpreter
    gc_after_run()
    assert gc.get_threshold()[0] == RUN_GC_YOUNG and gc.get_freeze_count() > 0  # one run still sends
    gc_after_run()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
