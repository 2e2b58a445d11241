"""The closed tuning loop on the demo service (PostgreSQL 15 with HypoPG): its unindexed search gets the
verified index, and the re-run shows the delta per query and per endpoint; without opt-in nothing changes."""

from __future__ import annotations

import psycopg
import pytest

from benchmarks.db_tuning import prepared_database, tuning_loop
from tests.conftest import running_demo_service

pytestmark = pytest.mark.integration

SEARCH_INDEX = "items_category_price_idx"
THRESHOLDS = {"index_min_calls": 20}  # a few seconds of load
# The demo's API endpoints without the CPU-burning tool (after a login: they need its token), paced
# well below the service's capacity: 10 iterations/s of three requests.
SCENARIO = """
feeders: {users: {file: users.csv, strategy: circular}}
journey:
  headers: {Authorization: "Bearer {{ token }}"}
  setup:
    - name: login
      method: POST
      path: /auth/login
      json: {username: "{{ users.username }}", password: "{{ users.password }}"}
      extract: {token: $.token}
  steps:
    - {name: list_items, method: GET, path: "/items?limit=20", class: api}
    - {name: get_item, method: GET, path: /items/1, class: api}
    - {name: search_items, method: GET, path: "/items/search?q=widget", class: api}
"""


@pytest.fixture(scope="module")
def demo(hypopg_server, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("tuning") / "scenario.yaml"
    scenario.write_text(SCENARIO)
    (scenario.parent / "users.csv").write_text("username,password\nuser-1,pw-1\n")  # no fixed password in a scenario
    dsn = prepared_database(hypopg_server, rows=100_000)
    try:
        with running_demo_service(dsn) as base_url:
            yield dsn, base_url, scenario
    finally:
        with psycopg.connect(hypopg_server.admin_dsn, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS perfpipe_demo WITH (FORCE)")


def _indexes(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'items'")}


def test_without_opt_in_nothing_changes(demo):
    dsn, base_url, scenario = demo
    outcome, findings = tuning_loop(dsn, base_url, "4s", rate=10, apply=False, scenario=scenario, thresholds=THRESHOLDS)
    assert any(f["object"] == f"public.{SEARCH_INDEX}" for f in findings)
    assert [r["status"] for r in outcome["applied"]] == ["recommended"]
    assert outcome["rerun"] is False and outcome["latency"] == [] and outcome["headline"] is None
    assert SEARCH_INDEX not in _indexes(dsn)


def test_search_gets_its_index_and_the_rerun_shows_the_delta(demo):
    dsn, base_url, scenario = demo
    outcome, findings = tuning_loop(dsn, base_url, "6s", rate=10, scenario=scenario, thresholds=THRESHOLDS)
    [advice] = [f for f in findings if f["check"] == "index_advice"]
    assert advice["evidence"]["status"] == "verified" and advice["object"] == f"public.{SEARCH_INDEX}"
    assert [(r["object"], r["status"]) for r in outcome["applied"]] == [(f"public.{SEARCH_INDEX}", "applied")]
    assert SEARCH_INDEX in _indexes(dsn)
    [search_query] = [q for q in outcome["queries"] if q["indexes"] == [SEARCH_INDEX]]
    assert search_query["mean_ms"]["verdict"] == "better" and search_query["calls_after"] > 0
    latency = {(r["scope"], r["name"]): r for r in outcome["latency"]}
    search = latency[("endpoint", "search_items")]["p95"]
    assert search["after"] < search["before"] and search["verdict"] == "better"
    assert ("class", "api") in latency and latency[("class", "api")]["p95"]["p_value"] is not None
    assert outcome["headline"].startswith(f"index {SEARCH_INDEX} cut search_items p95 from")
