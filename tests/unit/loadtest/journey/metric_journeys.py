"""A Python journey feeding custom metrics (``journey: tests.unit.loadtest.journey.metric_journeys:orders``)."""


async def orders(vu):
    async with vu.group("checkout"):
        order = (await vu.post("/orders", json={"item_id": 11}, name="order", expect_status=201)).json()
    vu.metric("orders_created").add(1)
    vu.metric("order_id").add(order["id"])
    vu.metric("big_order").add(order["id"] > 5)
    vu.metric("last_order").add(order["id"])
    await vu.sleep(0.01)
