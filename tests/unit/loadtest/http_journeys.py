"""Python journeys for tests/unit/loadtest/test_http_features.py: what each VU's cookies were."""

SEEN: list[tuple[int, str]] = []  # (vu number, the Cookie value the server saw)


async def own_cookie(vu):
    await vu.get(f"/set-cookie/vu/{vu.number}")
    answer = await vu.get("/cookies")
    SEEN.append((vu.number, answer.text))
