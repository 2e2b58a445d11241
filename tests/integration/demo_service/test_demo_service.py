"""The demo service answers every endpoint class with real queries on its seeded database."""
import time

import httpx
import psycopg
import pytest

from include.demo_service.schema import SEED_ROWS
from tests.conftest import running_demo_service

pytestmark = pytest.mark.integration


def test_seeds_its_data_once(demo_service, demo_db_url):
    with psycopg.connect(demo_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM items WHERE name LIKE 'item-%'").fetchone()[0] == SEED_ROWS


def test_api_endpoints_query_the_database(demo_service):
    listed = httpx.get(f"{demo_service}/items", params={"limit": 5}).json()
    assert [item["id"] for item in listed] == [1, 2, 3, 4, 5]
    assert httpx.get(f"{demo_service}/items/3").json()["name"] == "item-3"
    assert httpx.get(f"{demo_service}/items/99999999").status_code == 404
    found = httpx.get(f"{demo_service}/items/search", params={"q": "widget", "limit": 3}).json()
    assert len(found) == 3 and {item["category"] for item in found} == {"widget"}
    created = httpx.post(f"{demo_service}/items", json={"name": "new", "category": "test", "price": 2.5})
    assert created.status_code == 201
    assert httpx.get(f"{demo_service}/items/{created.json()['id']}").json()["name"] == "new"


def test_tool_execution_lasts_the_requested_time(demo_service):
    for kind in ("cpu", "io", "io", "io", "io", "io"):  # io repeated: early timer wake-ups are intermittent
        answer = httpx.post(f"{demo_service}/tools/execute", json={"kind": kind, "duration_ms": 80}, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["duration_ms"] >= 80


def test_bad_input_names_the_field(demo_service):
    answer = httpx.post(f"{demo_service}/tools/execute", json={"kind": "cpu", "duration_ms": 5000})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "duration_ms"]


def test_health_can_be_made_slow(demo_db_url):
    with running_demo_service(demo_db_url, DEMO_HEALTH_DELAY_MS="300") as slow:
        started = time.perf_counter()
        assert httpx.get(f"{slow}/health").status_code == 200
        assert time.perf_counter() - started >= 0.3
