"""The composition root's first two steps: a plan holds credential names only, run_shard resolves their values
and hands them to the engine (the in-house one, or any that plugs in through ``Engine``)."""

import json
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest import TargetNotAllowed
from include.perfpipe.loadtest.http.credentials import basic_auth
from include.perfpipe.runs import ENGINES, RunHooks, Shard, engine_named, plan_run, run_shard
from include.perfpipe.validation import load_thresholds
from tests.unit.loadtest.server import LoopbackServer

SECRETS = {"Authorization": basic_auth("alice", "pl4nted-Passw0rd"), "X-Api-Key": "pl4nted-api-key-123"}
CONN_ID = "perf_target_http"


def connection(conn_id):
    """A credential source as a DAG's: the headers of the connection the spec names."""
    return {CONN_ID: SECRETS}.get(conn_id, {})


def _plan(url: str, **kwargs):
    thresholds = load_thresholds(profile="smoke", target=url)
    return plan_run(
        "smoke", url, thresholds, overrides={"vus": 1, "duration": "0.5s"}, allowlist=["127.0.0.1"], **kwargs
    )


@dataclass
class RecordingEngine:
    """An engine that runs nothing: what the root hands a plugged-in engine."""

    name: ClassVar[str] = "recording"
    processes: int | str = "auto"
    calls: list = field(default_factory=list)

    def run(self, spec, shard, credentials, hooks):
        self.calls.append((spec, shard, dict(credentials), hooks))
        return "a LoadResult"


def test_a_plan_names_the_credentials_and_takes_its_abort_rules_from_the_thresholds():
    plan = _plan("http://127.0.0.1:9/", credential_names=list(SECRETS), credentials_conn_id=CONN_ID)
    recorded = json.dumps(plan.spec.to_dict())
    assert plan.spec.secret_headers == list(SECRETS) and plan.spec.credentials_conn_id == CONN_ID
    assert SECRETS["X-Api-Key"] not in recorded and SECRETS["Authorization"] not in recorded
    rules = [(r["suite"], r["class_name"], r["metric"], r["limit"]) for r in plan.thresholds.abort_rules()]
    assert [(r.suite, r.class_name, r.metric, r.limit) for r in plan.spec.abort_rules] == rules != []
    assert plan.engine == "perfpipe" and plan.spec.allowlist == ["127.0.0.1"]


def test_a_plan_refuses_an_unknown_engine_and_a_target_outside_the_allowlist():
    with pytest.raises(ConfigError, match=r"engine: unknown engine 'k7'; known: \['k6', 'perfpipe'\]"):
        _plan("http://127.0.0.1:9/", engine="k7")
    with pytest.raises(TargetNotAllowed, match="host 'example.com' of 'http://example.com/' is not in the allowlist"):
        _plan("http://example.com/")


def test_run_shard_gives_the_engine_the_resolved_credentials_the_shard_and_the_hooks(monkeypatch):
    engine, hooks = RecordingEngine(), RunHooks(should_stop=lambda: None)
    plan = _plan("http://127.0.0.1:9/", credential_names=list(SECRETS), credentials_conn_id=CONN_ID)
    shard = Shard(1, 2, 1234.5)
    assert run_shard(plan.spec.to_dict(), shard, credentials=connection, engine=engine, hooks=hooks) == "a LoadResult"
    [(spec, given_shard, credentials, given_hooks)] = engine.calls
    assert spec == plan.spec and given_shard == shard and credentials == SECRETS and given_hooks is hooks
    monkeypatch.setitem(ENGINES, "recording", RecordingEngine)
    assert engine_named("recording", processes=3) == RecordingEngine(processes=3)


def test_run_shard_refuses_a_source_without_the_named_credentials_before_the_engine_runs():
    engine = RecordingEngine()
    plan = _plan("http://127.0.0.1:9/", credential_names=["X-Api-Key"], credentials_conn_id="another_conn")
    with pytest.raises(ConfigError, match=r"names \['X-Api-Key'\] but the worker was given \[\]"):
        run_shard(plan.spec, credentials=connection, engine=engine)
    assert engine.calls == []


def test_the_in_house_engine_sends_the_credentials_it_is_handed():
    required = tuple(f"{name}: {value}" for name, value in SECRETS.items())
    with LoopbackServer(require_headers=required) as server:
        plan = _plan(server.url("/ok"), credential_names=list(SECRETS), credentials_conn_id=CONN_ID)
        result = run_shard(plan.spec, credentials=connection, engine=engine_named(None, processes=1))
    total = result.summary()["totals"]
    assert total["count"] > 0 and total["errors"] == 0 and server.unauthorised == 0
