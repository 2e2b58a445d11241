"""Fault matrix row 26 (issue 23 finding 13): what a run trusts comes from its own configuration. The load test
reads the target allowlist itself, not from the spec an XCom carries; a secret-looking fixed value in a
scenario's ``json``, ``body``, ``variables`` or query string is refused like a fixed credential header; the
DB apply allowlist matches a table exactly."""

import re

import pytest

from include.perfpipe.database.maintenance import allowed, check_apply_allowlist
from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest import load_spec
from include.perfpipe.loadtest.http.target import TargetNotAllowed
from tests.unit.loadtest.server import LoopbackServer

PLANTED = "pl4nted-s3cret-4e1b"


def test_load_test_reads_the_allowlist_itself_not_from_the_plan(monkeypatch):
    """An XCom edited between preflight and load_test changed the target and the spec's allowlist together; the
    task now checks the plan's URLs against the Variable it reads itself, before a single request."""
    from include.pipelines import perf_dag

    with LoopbackServer() as inside, LoopbackServer() as outside:
        spec = load_spec("smoke", inside.url("/ok"), overrides={"vus": 1, "duration": "1s"}, allowlist=["127.0.0.1"])
        outside_url = f"http://localhost:{outside.port}/ok"
        tampered = {**spec.to_dict(), "target": outside_url, "allowlist": ["127.0.0.1", "localhost"]}
        tampered["endpoints"] = [{**e, "url": outside_url} for e in tampered["endpoints"]]
        run = {"dag_id": "perf_smoke", "run_id": "manual__x", "profile": "smoke", "target": outside_url,
               "version": None, "started_at": "2026-12-07T00:00:00+00:00"}  # fmt: skip
        shard = {"index": 0, "count": 1, "start_at": None}
        plan = {"run": run, "spec": tampered, "shards": [shard]}
        ctx = {"params": {"processes": 1}, "ti": None}
        monkeypatch.setattr(perf_dag, "get_current_context", lambda: ctx)
        monkeypatch.setattr(perf_dag, "shard_placement", lambda ctx, shard: {"index": 0})
        monkeypatch.setenv("AIRFLOW_VAR_PERFPIPE_TARGET_ALLOWLIST", "127.0.0.1")
        with pytest.raises(TargetNotAllowed, match="'localhost'"):
            perf_dag.load_test.function(plan, shard)
        assert outside.requests == 0 and inside.requests == 0
        plan["spec"] = spec.to_dict()  # the plan as preflight made it runs
        assert perf_dag.load_test.function(plan, shard)["shard"] == {"index": 0} and inside.requests > 0


FIXED_SECRETS = {  # where a fixed secret-looking value hides -> the field the error names
    "json": (f"json: {{user: alice, password: {PLANTED}}}", "endpoints[0].json.password"),
    "nested json": (f"json: {{auth: {{user: alice, api_key: {PLANTED}}}}}", "endpoints[0].json.auth"),
    "form body": (f'body: "user=alice&password={PLANTED}"', "endpoints[0].body.password"),
    "JSON body": (f"""body: '{{"token": "{PLANTED}"}}'""", "endpoints[0].body.token"),
    "query string": (f"path: '/x?user=alice&api_key={PLANTED}'", "endpoints[0].path query.api_key"),
}


@pytest.mark.parametrize("case", FIXED_SECRETS)
def test_a_fixed_secret_in_a_body_or_query_is_refused_without_its_value(case, tmp_path):
    where, field = FIXED_SECRETS[case]
    path = tmp_path / "s.yaml"
    path_field = "" if where.startswith("path:") else "path: /x, "
    path.write_text(f"endpoints:\n  - {{name: a, method: POST, {path_field}{where}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_spec(scenario=path)
    assert f"{path}: {field}" in str(caught.value) and "fixed value (not shown)" in str(caught.value)
    assert PLANTED not in str(caught.value)


def test_a_fixed_secret_journey_variable_is_refused_and_templated_ones_pass(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"journey:\n  variables: {{api_token: {PLANTED}}}\n  steps: [{{path: /x}}]\n")
    with pytest.raises(ConfigError, match=r"journey\.variables\.api_token: a secret-looking field") as caught:
        load_spec(scenario=path)
    assert PLANTED not in str(caught.value)
    path.write_text(
        "journey:\n  variables: {token: ''}\n  steps:\n"
        "    - {path: '/x?token={{ token }}', method: POST, json: {password: '{{ token }}', sort_key: 3}}\n"
    )
    with pytest.raises(ConfigError, match=r"json\.sort_key"):  # a number is a fixed value too
        load_spec(scenario=path)
    path.write_text(path.read_text().replace(", sort_key: 3", ""))
    assert load_spec(scenario=path).journey is not None


def _index_change(index: str, table: str, schema: str = "public") -> dict:
    return {"object": f"{schema}.{index}", "evidence": {"schema": schema, "index": index, "table": f"{schema}.{table}"}}


def test_the_apply_allowlist_matches_a_table_or_an_index_exactly_or_a_whole_schema():
    """``public.orders*`` matched the indexes of ``orders_history``; now an entry names a table (every index change
    on it), an index, or ``schema.*``, and any other wildcard is refused."""
    orders, history = _index_change("orders_total_idx", "orders"), _index_change("orders_history_idx", "orders_history")
    assert allowed(orders, ["public.orders"]) and not allowed(history, ["public.orders"])
    assert allowed(orders, ["public.orders_total_idx"]) and allowed(history, ["public.*"])
    assert not allowed(orders, ["other.*", "public.order"]) and not allowed(orders, [])
    advice = {"object": "s.x_idx", "evidence": {"table": "s.x", "index": {"schema": "s", "name": "x_idx"}}}
    assert allowed(advice, ["s.x"]) and allowed(advice, ["s.*"]) and not allowed(advice, ["public.*"])
    for entry in ("public.orders*", "*", "public.ord?rs", "orders"):
        with pytest.raises(ConfigError, match=re.escape(repr(entry))):
            check_apply_allowlist([entry])
    assert check_apply_allowlist(["public.orders", "public.*"]) == ["public.orders", "public.*"]
