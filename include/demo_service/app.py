"""Endpoints of the demo service, one of every class the thresholds name (health, api, tool)."""

from __future__ import annotations

import asyncio
import os
import time
from contextlib import asynccontextmanager

from fastapi import Cookie, Depends, FastAPI, Header, HTTPException, Query, Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from include.demo_service.journal import Journal
from include.demo_service.pages import add_pages
from include.demo_service.schema import prepare
from include.demo_service.tools import burn_cpu, cpu_pool
from include.perfpipe import embedded_db

DEMO_USERS = 1000  # user-1 .. user-1000, password pw-<n> (include/config/scenarios/demo_users.csv)


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=50)
    price: float = Field(ge=0)
    description: str = ""


class Login(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=100)


class NewOrder(BaseModel):
    item_id: int = Field(ge=1)
    quantity: int = Field(1, ge=1, le=100)


class CartItem(BaseModel):
    item_id: int = Field(ge=1)


class ToolRun(BaseModel):
    kind: str = Field("cpu", pattern="^(cpu|io)$", description="cpu: hash in a worker process; io: sleep")
    duration_ms: int = Field(100, ge=50, le=1000, description="how long the work lasts, 50 ms to 1 s")


def create_app(db_url: str | None = None, health_delay_ms: int | None = None) -> FastAPI:
    """Build the app; ``DEMO_DB_URL`` (default: the embedded demo DB) and ``DEMO_HEALTH_DELAY_MS``
    (a deliberately slow /health) configure it."""
    db_url = db_url or os.environ.get("DEMO_DB_URL") or embedded_db.dsn(embedded_db.default_port(), "demo")
    if health_delay_ms is None:
        health_delay_ms = int(os.environ.get("DEMO_HEALTH_DELAY_MS", "0"))
    pool = AsyncConnectionPool(db_url, min_size=2, max_size=20, open=False, kwargs={"row_factory": dict_row})
    tools: dict = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            await prepare(conn)
        tools["cpu"] = await asyncio.to_thread(cpu_pool)
        yield
        tools.pop("cpu").shutdown(cancel_futures=True)
        await pool.close()

    app = FastAPI(title="perfpipe demo service", lifespan=lifespan)
    journal = Journal()
    add_pages(app, journal)

    def user_of(authorization: str | None = Header(None)) -> str:
        """The user a ``Bearer`` token from ``POST /auth/login`` belongs to; 401 otherwise."""
        user = journal.user_of(authorization)
        if user is None:
            raise HTTPException(
                401, "a Bearer token from POST /auth/login is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return user

    async def fetch_all(query: str, params: dict) -> list[dict]:
        async with pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchall()

    @app.get("/health")
    async def health() -> dict:
        if health_delay_ms:
            await asyncio.sleep(health_delay_ms / 1000)
        return {"status": "ok"}

    @app.post("/auth/login")
    async def login(credentials: Login) -> dict:
        number = credentials.username.removeprefix("user-")
        if not (number.isdigit() and 1 <= int(number) <= DEMO_USERS and credentials.password == f"pw-{number}"):
            journal.unauthorised += 1
            raise HTTPException(401, "unknown user or wrong password")
        return {"token": journal.login(credentials.username)}

    @app.get("/journal")
    async def journal_counts() -> dict:
        """What the service saw (the journey test reads it): logins, 401s, tokens, items, orders."""
        return journal.counts()

    @app.get("/items", dependencies=[Depends(user_of)])
    async def list_items(limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0)) -> list[dict]:
        return await fetch_all(
            "SELECT id, name, category, price FROM items ORDER BY id LIMIT %(limit)s OFFSET %(offset)s",
            {"limit": limit, "offset": offset},
        )

    @app.get("/items/search", dependencies=[Depends(user_of)])
    async def search_items(q: str = Query(..., min_length=1, max_length=50), limit: int = Query(20, ge=1, le=100)):
        return await fetch_all(
            "SELECT id, name, category, price FROM items WHERE category = %(q)s ORDER BY price DESC LIMIT %(limit)s",
            {"q": q, "limit": limit},
        )

    @app.get("/items/{item_id}", dependencies=[Depends(user_of)])
    async def get_item(item_id: int) -> dict:
        rows = await fetch_all("SELECT * FROM items WHERE id = %(id)s", {"id": item_id})
        if not rows:
            raise HTTPException(404, f"item {item_id} not found")
        journal.items_read.add(item_id)
        return rows[0]

    @app.post("/orders", status_code=201)
    async def create_order(order: NewOrder, user: str = Depends(user_of)) -> dict:
        rows = await fetch_all(
            "INSERT INTO orders (username, item_id, quantity) SELECT %(user)s, id, %(quantity)s FROM items "
            "WHERE id = %(item_id)s RETURNING id, item_id, quantity",
            {"user": user, **order.model_dump()},
        )
        if not rows:
            raise HTTPException(404, f"item {order.item_id} not found")
        journal.orders_created += 1
        return rows[0]

    @app.get("/orders/{order_id}")
    async def get_order(order_id: int, user: str = Depends(user_of)) -> dict:
        rows = await fetch_all(
            "SELECT id, item_id, quantity FROM orders WHERE id = %(id)s AND username = %(user)s",
            {"id": order_id, "user": user},
        )
        journal.order_reads += 1
        if not rows:
            journal.order_reads_missing += 1
            raise HTTPException(404, f"order {order_id} not found")
        return rows[0]

    @app.post("/cart/items")
    async def add_to_cart(
        entry: CartItem, response: Response, cart: str | None = Cookie(None), _: str = Depends(user_of)
    ) -> dict:
        """A cookie session: the first add sets ``cart``; later ones (with the cookie) add to it."""
        cart, items = journal.add_to_cart(cart, entry.item_id)
        response.set_cookie("cart", cart, httponly=True)
        return {"cart": cart, "items": items}

    @app.get("/cart")
    async def show_cart(cart: str | None = Cookie(None), _: str = Depends(user_of)) -> dict:
        return {"cart": cart, "items": journal.carts.get(cart, [])}

    @app.post("/items", status_code=201, dependencies=[Depends(user_of)])
    async def create_item(item: NewItem) -> dict:
        rows = await fetch_all(
            "INSERT INTO items (name, category, description, price) VALUES "
            "(%(name)s, %(category)s, %(description)s, %(price)s) RETURNING id, name, category, price",
            item.model_dump(),
        )
        return rows[0]

    @app.post("/tools/execute")
    async def execute_tool(run: ToolRun) -> dict:
        started = time.perf_counter()
        if run.kind == "cpu":
            await asyncio.get_running_loop().run_in_executor(tools["cpu"], burn_cpu, run.duration_ms / 1000)
        else:  # the loop's timers have millisecond granularity and may fire early: sleep until truly due
            deadline = started + run.duration_ms / 1000
            while (remaining := deadline - time.perf_counter()) > 0:
                await asyncio.sleep(remaining)
        return {"kind": run.kind, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}

    return app
