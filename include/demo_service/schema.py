"""Schema and seed data of the demo service (idempotent: safe on every start)."""

from psycopg import AsyncConnection
from psycopg.rows import tuple_row

SEED_ROWS = 50_000
CATEGORIES = ("widget", "gadget", "gizmo", "doohickey", "sprocket", "flange", "grommet", "bracket")

CREATE_ITEMS = """
CREATE TABLE IF NOT EXISTS items (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    category    text NOT NULL,
    description text NOT NULL,
    price       numeric(10, 2) NOT NULL CHECK (price >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
)
"""
CREATE_ORDERS = """
CREATE TABLE IF NOT EXISTS orders (
    id         bigserial PRIMARY KEY,
    username   text NOT NULL,
    item_id    bigint NOT NULL REFERENCES items (id),
    quantity   int NOT NULL CHECK (quantity > 0),
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
# No index on category: /items/search scans the table until someone adds one.
SEED_ITEMS = """
INSERT INTO items (name, category, description, price)
SELECT 'item-' || g,
       (%(categories)s::text[])[1 + g %% cardinality(%(categories)s::text[])],
       'A ' || (%(categories)s::text[])[1 + g %% cardinality(%(categories)s::text[])] || ' numbered ' || g,
       round((random() * 500)::numeric, 2)
FROM generate_series(1, %(rows)s) AS g
"""


async def prepare(conn: AsyncConnection) -> None:
    """Create the items and orders tables and seed the items once; concurrent starters serialise on an advisory lock."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('perfpipe_demo_seed'))")
        await conn.execute(CREATE_ITEMS)
        await conn.execute(CREATE_ORDERS)
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute("SELECT EXISTS (SELECT 1 FROM items)")
        (seeded,) = await cur.fetchone()
        if not seeded:
            await conn.execute(SEED_ITEMS, {"categories": list(CATEGORIES), "rows": SEED_ROWS})
            await conn.execute("ANALYZE items")
