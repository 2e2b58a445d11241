"""k6 through perfpipe against loopback servers: exact counts, the allowlist, secrets, verdicts, shards, deadlines.

Each run is one or two seconds of a few VUs; the servers count what reaches them.
"""

import json
import logging
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pandas as pd
import pytest

from include.perfpipe.cli import main
from include.perfpipe.k6 import runner
from include.perfpipe.k6.cli import run_shards_here
from include.perfpipe.k6.engine import plan_of
from include.perfpipe.k6.runner import K6ScriptError
from include.perfpipe.k6.summary import judge_k6
from include.perfpipe.loadtest.result import merge_results
from include.perfpipe.metrics import new_histogram
from include.perfpipe.runs import plan_run
from include.perfpipe.validation import load_thresholds
from include.perfpipe.validation.gx_checkpoint import RESULT_COLUMNS
from include.perfpipe.validation.result import ValidationResult
from include.perfpipe.validation.verdict import Verdict
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration
SECRET = "Bearer planted-k6-secret-7f3a"
K6_SCRIPTS = Path(__file__).resolve().parents[3] / "include" / "config" / "k6"


@pytest.fixture(scope="module")
def server():
    with LoopbackServer() as running:
        yield running


class ConnectionCounter:
    """Counts every TCP connection that reaches ``host`` (the address outside the allowlist)."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(0.2)
        self.port, self.connections, self._done = self.sock.getsockname()[1], 0, threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._done.set()
        self._thread.join(2)
        self.sock.close()


def script(tmp_path: Path, body: str, options: str, name: str = "test.js", prelude: str = "") -> Path:
    path = tmp_path / name
    path.write_text(
        f"import http from 'k6/http';\nimport {{ check, group }} from 'k6';\n{prelude}"
        f"export const options = {options};\nexport default function () {{\n{body}\n}}\n"
    )
    return path


def planned(path: Path, base_url: str, secrets: dict | None = None):
    """The k6 spec the composition root plans for ``path`` against ``base_url``."""
    thresholds = load_thresholds(profile="smoke", target=base_url)
    return plan_run(
        "smoke",
        base_url,
        thresholds,
        credential_names=list(secrets or {}),
        allowlist=["127.0.0.1"],
        engine="k6",
        k6_script=path,
    ).spec


def shards_of(path: Path, base_url: str, count: int = 1, secrets: dict | None = None):
    """``(each shard's result, their merge)``."""
    parts = run_shards_here(planned(path, base_url, secrets), count, secrets or {})
    return parts, merge_results(parts)


def k6_summary(result, index: int = 0) -> dict:
    return result.extra[f"k6_shard_{index}"]["summary"]


def test_recorded_requests_equal_the_servers_and_secrets_reach_no_artefact(tmp_path, server, caplog):
    guarded = LoopbackServer(require_headers=(f"Authorization: {SECRET}",))
    path = script(
        tmp_path,
        "if (__ITER === 0) { console.log('token ' + __ENV.AUTHORIZATION);\n"
        # a script that puts the secret in a URL and a check's name: masked in the rows, checks and k6's summary
        "  const leak = http.get(`${__ENV.BASE_URL}/status/204?key=${encodeURIComponent(__ENV.AUTHORIZATION)}`,"
        " { headers: { Authorization: __ENV.AUTHORIZATION } });\n"
        "  check(leak, { ['sees ' + __ENV.AUTHORIZATION]: (r) => r.status === 204 }); }\n"
        "const res = http.get(`${__ENV.BASE_URL}/ok`, { headers: { Authorization: __ENV.AUTHORIZATION },"
        " tags: { name: 'ok', class: 'health' } });\n"
        "check(res, { 'is 200': (r) => r.status === 200 });\n"
        "http.get(`${__ENV.BASE_URL}/status/503`, { headers: { Authorization: __ENV.AUTHORIZATION } });",
        "{ vus: 2, duration: '1s' }",
    )
    out = tmp_path / "run"
    with guarded, caplog.at_level(logging.INFO, logger="perfpipe.loadtest"):
        _, result = shards_of(path, guarded.url(""), secrets={"Authorization": SECRET})
    rows = result.stats_frame().set_index("name")
    assert guarded.unauthorised == 0  # the secret reached k6 through its environment
    assert rows.loc["ok", "count"] == guarded.hits["/ok"] > 100 and rows.loc["ok", "class_name"] == "health"
    failing = rows.loc[server.url("/status/503").replace(str(server.port), str(guarded.port))]
    assert failing["count"] == failing["errors"] == guarded.hits["/status/503"]
    assert rows.loc["all", "count"] == guarded.requests
    assert result.journey.checks.counts["is 200"] == [guarded.hits["/ok"], 0]
    k6 = k6_summary(result)["metrics"]["http_req_duration"]
    assert "p(99)" in k6 and k6_summary(result)["metrics"]["http_reqs"]["count"] == guarded.requests
    for ours, theirs in (("p50_ms", "med"), ("p95_ms", "p(95)"), ("max_ms", "max")):
        assert rows.loc["all", ours] == pytest.approx(k6[theirs], rel=0.03)
    assert rows.loc[guarded.url("/status/204?key=***"), "count"] == 2 and result.journey.checks.counts["sees ***"]
    result.write(out)
    (out / "result.json").write_text(json.dumps(result.to_dict()))
    judge_k6(ValidationResult(Verdict.PASS, "ok", pd.DataFrame(columns=RESULT_COLUMNS)), result, out)
    assert "token ***" in caplog.text and SECRET not in caplog.text
    token = SECRET.split()[1]  # what stays the same when the secret is URL-encoded
    assert (out / "k6-summary.json").is_file()
    for artefact in out.rglob("*"):
        assert artefact.is_dir() or token.encode() not in artefact.read_bytes(), artefact
    assert token not in json.dumps(result.to_dict())


def test_nothing_reaches_an_address_outside_the_allowlist(tmp_path, server):
    outside = ConnectionCounter("127.0.0.2")
    try:
        elsewhere = f"http://127.0.0.2:{outside.port}"
        path = script(
            tmp_path,
            "http.get(`${__ENV.BASE_URL}/ok`, { tags: { name: 'allowed' } });\n"
            f"http.get('{elsewhere}/direct', {{ tags: {{ name: 'direct' }} }});\n"
            f"http.get(`${{__ENV.BASE_URL}}/redirect?to={elsewhere}/hop`, {{ tags: {{ name: 'redirected' }} }});\n"
            # k6's other protocols dial through the same blocklist
            "if (__ITER === 0) {\n"
            f"  ws.connect('ws://127.0.0.2:{outside.port}/', null, (socket) => socket.close());\n"
            f"  try {{ grpcClient.connect('127.0.0.2:{outside.port}',"
            " { plaintext: true, reflect: true, timeout: '300ms' }); } catch (e) { console.log('grpc refused'); }\n}",
            "{ vus: 1, iterations: 5 }",
            prelude="import ws from 'k6/ws';\nimport grpc from 'k6/net/grpc';\nconst grpcClient = new grpc.Client();\n",
        )
        _, result = shards_of(path, server.url(""))
    finally:
        outside.close()
    assert outside.connections == 0
    rows = result.stats_frame().set_index("name")
    assert rows.loc["allowed", "errors"] == 0 and rows.loc["allowed", "count"] == 5
    assert rows.loc["direct", "errors"] == rows.loc["direct", "count"] == 5
    assert rows.loc["redirected", "errors"] == 5  # the hop out of the allowlist failed
    # WebSocket metrics, k6 built-ins our frames have no table for, are custom metrics of the kind k6 declares
    custom = result.journey.metrics.metrics
    assert custom["ws_sessions"].kind == "counter" and custom["ws_sessions"].total == 1
    assert custom["ws_connecting"].kind == "trend" and custom["ws_connecting"].unit == "ms"


def test_two_shards_merge_exactly_and_are_judged_once(tmp_path, server):
    from include.perfpipe.k6.summary import k6_rows

    before = server.hits["/sleep/2"]
    path = script(
        tmp_path,
        "http.get(`${__ENV.BASE_URL}/sleep/2`, { tags: { name: 'sleep' } });",
        "{ scenarios: { fixed: { executor: 'shared-iterations', vus: 4, iterations: 120 } },"
        " thresholds: { http_req_duration: ['p(99)<10000', 'p(50)<0.001'], http_reqs: ['count==120'],"
        " http_req_waiting: ['p(99)<10000'] } }",
    )
    parts, result = shards_of(path, server.url(""), 2)
    served = server.hits["/sleep/2"] - before
    shards = [next(iter(part.metrics.endpoints.values())) for part in parts]
    merged = next(iter(result.metrics.endpoints.values()))
    assert [s.count for s in shards] == [60, 60] and merged.count == served == 120
    for part in parts:  # k6 waited --paused until the common start: no request before it, nor before resume
        assert 0 <= part.health["k6_resumed_s"] <= part.health["start_delay_s"]
    added = new_histogram()
    for shard in shards:
        added.add(shard.hist)
    assert merged.hist.get_value_at_percentile(99) == added.get_value_at_percentile(99)
    assert merged.hist.get_total_count() == 120 and result.metrics.iterations == {"fixed": 120}
    summaries = [k6_summary(result, i) for i in (0, 1)]
    rows = {r["metric"]: r for r in k6_rows(result.spec["k6"]["options"]["thresholds"], summaries, result)}
    assert rows["http_reqs count"]["success"] and rows["http_reqs count"]["class_name"] == "global"
    assert rows["http_reqs count"]["observed"] == 120  # each shard alone saw 60 and crossed it
    assert all(s["metrics"]["http_reqs"]["thresholds"]["count==120"] for s in summaries)
    assert not rows["http_req_duration p(50)"]["success"] and rows["http_req_duration p(99)"]["success"]
    # the phase a threshold names is carried (as a custom trend of both shards, merged) and judged globally
    waiting = result.journey.metrics.metrics["http_req_waiting"]
    assert result.spec["k6"]["carried"] == ["http_req_waiting"] and waiting.samples == 120
    assert "http_req_blocked" not in result.journey.metrics.metrics
    assert rows["http_req_waiting p(99)"]["class_name"] == "global" and rows["http_req_waiting p(99)"]["success"]
    # one k6 summary for the whole run: counts the shards' sum, percentiles from the merged histogram
    judge_k6(ValidationResult(Verdict.PASS, "ok", pd.DataFrame(columns=RESULT_COLUMNS)), result, tmp_path)
    whole = json.loads((tmp_path / "k6-summary.json").read_text())["metrics"]
    assert whole["http_reqs"]["count"] == sum(s["metrics"]["http_reqs"]["count"] for s in summaries) == 120
    assert whole["iterations"]["count"] == 120
    duration = whole["http_req_duration"]
    assert duration["p(99)"] == merged.hist.get_value_at_percentile(99) / 1000
    assert duration["med"] == merged.hist.get_value_at_percentile(50) / 1000
    assert duration["thresholds"] == {"p(99)<10000": False, "p(50)<0.001": True}
    assert whole["http_req_waiting"]["p(99)"] == pytest.approx(waiting.hist.get_value_at_percentile(99) / 1000)


def test_abort_on_fail_stops_every_shard(tmp_path, server):
    path = script(
        tmp_path,
        "http.get(`${__ENV.BASE_URL}/status/500`);",
        "{ vus: 2, duration: '60s', thresholds: { http_req_failed: [{ threshold: 'rate<0.01', abortOnFail: true }] } }",
    )
    began = time.monotonic()
    parts, result = shards_of(path, server.url(""), 2)
    assert time.monotonic() - began < 30
    assert result.aborted and "abortOnFail" in result.abort_reason
    assert all(part.aborted for part in parts)


def test_one_of_our_abort_rules_stops_every_shard(tmp_path, server):
    path = script(tmp_path, "http.get(`${__ENV.BASE_URL}/status/500`);", "{ vus: 2, duration: '60s' }")
    rule = {"suite": "errors", "class_name": "all", "metric": "error_rate", "operator": "<", "limit": 0.01}
    spec = replace(planned(path, server.url("")), abort_rules=[{**rule, "window_s": 1, "delay_s": 1}])
    began = time.monotonic()
    parts = run_shards_here(spec, 2, {})
    assert time.monotonic() - began < 30
    reasons = [part.abort_reason for part in parts]
    assert any("abort_on_fail: error_rate of class all" in r for r in reasons), reasons
    assert all(part.aborted for part in parts)  # the other shard was stopped by the first


def test_the_run_deadline_ends_k6_and_the_reader(tmp_path, server):
    path = script(tmp_path, "http.get(`${__ENV.BASE_URL}/sleep/50`);", "{ vus: 1, duration: '60s' }")
    plan = plan_of(planned(path, server.url("")), 1)
    began = time.monotonic()
    shard = runner.run_shard(replace(plan, deadline_s=1.0))
    assert time.monotonic() - began < 1.0 + runner.KILL_GRACE_S + 5
    assert shard.result.health["interrupted"] == 1 and shard.result.health["saturated"]
    assert "deadline" in shard.result.abort_reason and shard.result.metrics.endpoints


def test_a_script_that_does_not_parse_fails_preflight_once(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("PERFPIPE_CONFIG_DIRS", str(tmp_path))  # --k6-script resolves inside the config folders
    bad = tmp_path / "bad.js"
    bad.write_text("import http from 'k6/http';\nexport default function () { http.get( }\n")
    calls = []
    real_run = runner.subprocess.run
    monkeypatch.setattr(runner.subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    with pytest.raises(K6ScriptError, match=r"bad\.js.*Unexpected token"):
        planned(bad, server.url(""))
    code = main(["loadtest", "--k6-script", str(bad), "--target", server.url(""), "--out", str(tmp_path / "o")])
    assert code == 3 and len(calls) == 2  # one k6 inspect per attempt: no retry
    err = capsys.readouterr().err
    assert "Unexpected token" in err and len(err.strip().splitlines()) == 1
    monkeypatch.delenv("PERFPIPE_CONFIG_DIRS")
    code = main(["loadtest", "--k6-script", str(bad), "--target", server.url(""), "--out", str(tmp_path / "o")])
    assert code == 3 and len(calls) == 2  # outside the config folders: refused before k6 reads it
    assert "--k6-script" in capsys.readouterr().err


def test_cli_fails_on_a_k6_threshold_beside_our_suites(tmp_path, server, monkeypatch):
    """Our suites pass (all 200s, fast) and k6's threshold is crossed: the run fails, both shown
    (a breach of ours failing the run whatever k6 says: test_summary.test_either_verdict_failing_fails_the_run)."""
    path = script(
        tmp_path,
        "http.get(`${__ENV.BASE_URL}/ok`);",
        "{ vus: 1, iterations: 20, thresholds: { http_req_duration: ['p(95)<0.001'], http_reqs: ['count>=20'] } }",
    )
    out = tmp_path / "out"
    monkeypatch.setenv("PERFPIPE_CONFIG_DIRS", str(tmp_path))
    code = main(["loadtest", "--k6-script", str(path), "--target", server.url(""), "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    results = summary["validation"]["results"]
    assert (code, summary["verdict"]) == (1, "fail") and "k6 thresholds crossed" in summary["reason"]
    assert [r["success"] for r in results if r["suite"] == "k6"] == [False, True]
    assert [r for r in results if r["suite"] != "k6"] and all(r["success"] for r in results if r["suite"] != "k6")
    assert (
        summary["totals"]["count"] == 20
        and "p(99)" in json.loads((out / "k6-summary.json").read_text())["metrics"]["http_req_duration"]
    )


def test_the_bundled_scripts_have_the_shapes_they_promise(server):
    shapes = {}
    for name in ("load-test.js", "load-test-smoke.js", "load-test-stress.js"):
        spec = planned(K6_SCRIPTS / name, server.url(""))
        options = spec.k6.options
        shapes[name] = (options["maxVUs"], sorted(options["scenarios"]), sorted(options["thresholds"]))
    assert shapes["load-test.js"][0] >= 200 and shapes["load-test.js"][1] == ["browse", "buy", "health"]
    assert {"error_rate", "order_duration", "http_req_duration{scenario:buy}"} <= set(shapes["load-test.js"][2])
    assert shapes["load-test-smoke.js"][:2] == (1, ["default"]) and shapes["load-test-stress.js"][0] == 400


def test_a_bundled_script_against_the_demo_service(demo_service):
    """What the service counted (logins, orders) equals what we recorded."""
    journal = httpx.get(f"{demo_service}/journal").json()
    spec = plan_run(
        "smoke",
        demo_service,
        load_thresholds(profile="smoke", target=demo_service),
        overrides={"vus": 2, "duration": "1s"},
        allowlist=["127.0.0.1"],
        engine="k6",
        k6_script=K6_SCRIPTS / "load-test-smoke.js",
    ).spec
    result = merge_results(run_shards_here(spec, 1, {}))
    after = httpx.get(f"{demo_service}/journal").json()
    rows = result.stats_frame().set_index("name")
    logins, orders = (json.loads(rows.loc[name, "status_counts"]) for name in ("POST /auth/login", "POST /orders"))
    assert logins == {"200": after["logins"] - journal["logins"]} and logins["200"] > 0
    assert orders == {"201": after["orders_created"] - journal["orders_created"]}
    assert rows.loc["all", "errors"] == 0 and result.journey.checks.counts["shop: order created"][1] == 0


def test_the_dag_preflight_refuses_a_bad_k6_script_without_a_retry(monkeypatch, tmp_path):
    """The ``k6_script`` Param: a script k6 does not compile fails preflight at once (no retry), with k6's message;
    each profile DAG's form suggests its bundled script."""
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowFailException

    from include.pipelines import perf_dag
    from include.pipelines.run_form import CONFIG_DIR, K6_SCRIPTS, perf_params

    bad = tmp_path / "bad.js"
    bad.write_text("export default function () { ( }\n")
    monkeypatch.setenv("PERFPIPE_CONFIG_DIRS", str(tmp_path))  # a k6_script outside the config folders is refused
    values = {name: param.value for name, param in perf_params("smoke").items()} | {"k6_script": str(bad)}
    ctx = {"params": values, "dag": SimpleNamespace(dag_id="perf_smoke"), "run_id": "manual__x", "ti": None}
    monkeypatch.setattr(perf_dag, "get_current_context", lambda: ctx)
    monkeypatch.setattr("include.pipelines.targets.http_target", lambda conn_id: ("http://127.0.0.1:9", {}))
    with pytest.raises(AirflowFailException, match=r"bad input: k6_script: k6 refused bad\.js: .*Unexpected token"):
        perf_dag.preflight.function()
    for profile, script in K6_SCRIPTS.items():
        assert script in perf_params(profile)["k6_script"].description and (CONFIG_DIR / script).is_file()
