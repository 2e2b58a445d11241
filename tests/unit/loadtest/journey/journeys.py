"""Python journeys the engine tests run (``journey: tests.unit.loadtest.journey.journeys:shop``)."""

import httpx


async def shop(vu):
    if "token" not in vu.vars:
        user = vu.feed("users")
        vu.vars["token"] = (await vu.post("/login", json={"user": user["user"]}, name="login")).json()["token"]
    auth = {"Authorization": f"Bearer {vu.vars['token']}", "X-VU": str(vu.number)}
    async with vu.group("order"):
        items = (await vu.get("/items", headers=auth, name="list")).json()
        order = (
            await vu.post(
                "/orders",
                json={"item_id": items[vu.iteration % 3]["id"]},
                headers=auth,
                name="order",
                expect_status=201,
            )
        ).json()
        await vu.get(f"/orders/{order['id']}", headers=auth, name="get_order")
    await vu.sleep(0.01)


async def one_ok(vu):
    await vu.get("/ok", name="ok")


async def broken(vu):
    await vu.get("/status/500", name="fails")  # recorded as an error, the journey goes on
    raise LookupError("no such thing")


async def elsewhere(vu):
    await vu.get("http://example.com/", name="elsewhere")


async def verbs(vu):
    """Every verb once, each answer an httpx.Response whose request is what was sent."""
    seen = vu.vars.setdefault("seen", [])
    for verb in ("get", "post", "put", "patch", "delete", "head", "options"):
        response = await getattr(vu, verb)(
            f"/ok?verb={verb}", headers={"X-Verb": verb, "user-agent": "mine"}, json={"verb": verb}, name=verb
        )
        assert isinstance(response, httpx.Response) and response.status_code == 200
        assert response.request.method == verb.upper() and response.url.path == "/ok"
        response.raise_for_status()
        seen.append((verb, response.content))
    async with vu.group("feed"):
        vu.vars["row"] = vu.feed("users")["user"]
    await vu.sleep(30)  # the end of the test cuts it short


def says_ok(response):
    return isinstance(response, httpx.Response) and response.json() == {"ok": True}


def says_no(response):
    return not says_ok(response)


def raises(response):
    raise RuntimeError("a broken check")


async def unencodable_header(vu):
    """A header outside Latin-1, then a plain request: the first fails as EncodeError, the second is sent."""
    try:
        await vu.get("/ok", name="tokyo", headers={"X-Name": "東京"})
    except vu.RequestFailed as failed:
        assert failed.error == "EncodeError"
    await vu.get("/ok", name="after")
