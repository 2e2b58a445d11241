"""The demo service answers every endpoint class with real queries on its seeded database."""

import contextlib
import re
import time

import httpx
import psutil
import psycopg
import pytest

from include.demo_service.schema import SEED_ROWS
from tests.conftest import running_demo_service

pytestmark = pytest.mark.integration


def test_seeds_its_data_once(demo_service, demo_db_url):
    with psycopg.connect(demo_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM items WHERE name LIKE 'item-%'").fetchone()[0] == SEED_ROWS


def _client(base_url: str, user: int = 1) -> httpx.Client:
    token = httpx.post(f"{base_url}/auth/login", json={"username": f"user-{user}", "password": f"pw-{user}"}).json()
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token['token']}"})


def test_api_endpoints_query_the_database(demo_service):
    api = _client(demo_service)
    listed = api.get("/items", params={"limit": 5}).json()
    assert [item["id"] for item in listed] == [1, 2, 3, 4, 5]
    assert api.get("/items/3").json()["name"] == "item-3"
    assert api.get("/items/99999999").status_code == 404
    found = api.get("/items/search", params={"q": "widget", "limit": 3}).json()
    assert len(found) == 3 and {item["category"] for item in found} == {"widget"}
    created = api.post("/items", json={"name": "new", "category": "test", "price": 2.5})
    assert created.status_code == 201
    assert api.get(f"/items/{created.json()['id']}").json()["name"] == "new"


def test_login_tokens_orders_and_cart(demo_service):
    assert httpx.get(f"{demo_service}/items/1").status_code == 401
    assert httpx.post(f"{demo_service}/auth/login", json={"username": "user-1", "password": "no"}).status_code == 401
    alice, bob = _client(demo_service, 1), _client(demo_service, 2)
    order = alice.post("/orders", json={"item_id": 7, "quantity": 2})
    assert order.status_code == 201 and order.json()["item_id"] == 7
    assert alice.get(f"/orders/{order.json()['id']}").json()["quantity"] == 2
    assert bob.get(f"/orders/{order.json()['id']}").status_code == 404  # not his order
    assert alice.post("/orders", json={"item_id": 99999999}).status_code == 404
    alice.post("/cart/items", json={"item_id": 3})
    assert alice.post("/cart/items", json={"item_id": 4}).json()["items"] == [3, 4]  # the cookie session
    assert bob.get("/cart").json()["items"] == []
    counts = httpx.get(f"{demo_service}/journal").json()
    assert counts["order_reads_missing"] >= 1 and counts["unauthorised"] >= 2


def test_tool_execution_lasts_the_requested_time(demo_service):
    for kind in ("cpu", "io", "io", "io", "io", "io"):  # io repeated: early timer wake-ups are intermittent
        answer = httpx.post(f"{demo_service}/tools/execute", json={"kind": kind, "duration_ms": 80}, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["duration_ms"] >= 80


def _service_process(base_url: str) -> psutil.Process:
    port = base_url.rsplit(":", 1)[1]
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.ZombieProcess):  # an exited child of another test, not reaped yet
            if child.cmdline()[-4:-2] == ["--port", port]:
                return child
    raise AssertionError(f"no demo service child process on port {port}")


def test_cpu_tool_runs_outside_the_service_process(demo_service):
    """The hashing runs in a worker process: the service's own process (its event loop) stays idle."""
    service = _service_process(demo_service)
    before = service.cpu_times()
    answer = httpx.post(f"{demo_service}/tools/execute", json={"kind": "cpu", "duration_ms": 600}, timeout=10)
    after = service.cpu_times()
    assert answer.status_code == 200 and answer.json()["duration_ms"] >= 600
    assert (after.user + after.system) - (before.user + before.system) < 0.3


def test_bad_input_names_the_field(demo_service):
    answer = httpx.post(f"{demo_service}/tools/execute", json={"kind": "cpu", "duration_ms": 5000})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "duration_ms"]


def test_health_can_be_made_slow(demo_db_url):
    with running_demo_service(demo_db_url, DEMO_HEALTH_DELAY_MS="300") as slow:
        started = time.perf_counter()
        assert httpx.get(f"{slow}/health").status_code == 200
        assert time.perf_counter() - started >= 0.3


def test_the_newsletter_form_takes_each_csrf_token_once(demo_service):
    page = httpx.get(f"{demo_service}/newsletter")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    before = httpx.get(f"{demo_service}/journal").json()
    form = {"csrf_token": token, "email": "a@example.com"}
    posted = httpx.post(f"{demo_service}/newsletter", data=form, follow_redirects=True)
    assert (
        posted.status_code == 200 and posted.url.path == "/newsletter/thanks" and posted.history[0].status_code == 303
    )
    assert httpx.post(f"{demo_service}/newsletter", data=form).status_code == 403  # used up
    after = httpx.get(f"{demo_service}/journal").json()
    assert (after["csrf_accepted"] - before["csrf_accepted"], after["csrf_refused"] - before["csrf_refused"]) == (1, 1)
    assert httpx.get(f"{demo_service}/static/shop.css").headers["content-type"].startswith("text/css")
    assert "/newsletter" not in httpx.get(f"{demo_service}/openapi.json").json()["paths"]
