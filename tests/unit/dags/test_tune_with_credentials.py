"""tune=True against a target that has credentials: the re-run sends the connection's credentials, as the
first run did, so the report gets its before and after (issue 23, finding 6)."""

import json

from include.perfpipe.loadtest.http.credentials import basic_auth
from include.perfpipe.runs import plan_run, run_shard
from include.perfpipe.validation import load_thresholds
from tests.unit.loadtest.server import LoopbackServer

CONN_ID, PASSWORD, API_KEY = "perf_tuned_http", "pl4nted-Passw0rd", "pl4nted-api-key-123"


def test_the_tuning_rerun_measures_a_target_that_needs_the_connections_credentials(monkeypatch):
    from include.pipelines import tuning
    from include.pipelines.targets import connection_credentials, http_target

    required = (f"Authorization: {basic_auth('alice', PASSWORD)}", f"X-Api-Key: {API_KEY}")
    params = {"tune": True, "processes": 1, "shards": 1, "db_conn_id": "perf_target_db"}
    monkeypatch.setattr(tuning, "get_current_context", lambda: {"params": params})
    monkeypatch.setattr("include.pipelines.targets.postgres_dsn", lambda conn_id: "postgresql://statements.invalid")
    monkeypatch.setattr(  # the statements windows are the DB's business; this test is about the load
        "include.perfpipe.database.tuning.rerun_with_statements",
        lambda dsn, rerun: {"load": rerun(), "statements_window": []},
    )
    with LoopbackServer(require_headers=required) as server:
        host, port = server.url("").split("//")[1].split("/")[0].split(":")
        connection = {"host": host, "port": int(port), "login": "alice", "password": PASSWORD}
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{CONN_ID.upper()}",
            json.dumps({"conn_type": "http", **connection, "extra": {"headers": {"X-Api-Key": API_KEY}}}),
        )
        base_url, headers = http_target(CONN_ID)
        planned = plan_run(
            "smoke",
            f"{base_url}/ok",
            load_thresholds(profile="smoke", target=base_url),
            overrides={"vus": 1, "duration": "1.2s"},  # one whole second for the comparison
            credential_names=list(headers),
            credentials_conn_id=CONN_ID,
            allowlist=["127.0.0.1"],
        )
        plan = {"spec": planned.spec.to_dict(), "engine": planned.engine}
        before = run_shard(plan["spec"], credentials=connection_credentials).to_dict()
        applied = [{"object": "public.items_category_idx", "action": "create_index", "status": "applied"}]
        after = tuning.rerun_load.function(plan, applied)
    assert server.unauthorised == 0 and server.hits["/ok"] > 0
    assert API_KEY not in json.dumps(after) and PASSWORD not in json.dumps(after)
    db = {"findings": [], "statements_delta": []}
    outcome = tuning.tuning_outcome.function(db, before, applied, after)["tuning"]
    assert outcome["rerun"] is True and "error" not in outcome
    [endpoint] = [row for row in outcome["latency"] if row["scope"] == "endpoint"]
    assert endpoint["p95"]["before"] > 0 and endpoint["p95"]["after"] > 0
