"""Python journeys for the fault tests."""

import os


async def escape(vu):
    """One request to the target, then one to ``$PERFPIPE_FAULT_OUTSIDE_URL`` (a host outside the allowlist)."""
    await vu.get("/ok", name="inside")
    try:
        await vu.get(os.environ["PERFPIPE_FAULT_OUTSIDE_URL"], name="outside")
    finally:
        await vu.sleep(0.2)


async def read_gzip_bomb(vu):
    """A response of 16 MB of zeros, 16 KB gzip-encoded on the wire, read whole."""
    response = await vu.get("/gzip-bomb/16", name="bomb")
    assert response.content


def any_body(response) -> bool:
    """A check function that reads the body."""
    return len(response.content) > 0


async def elsewhere(vu):
    """The target, then ``$PERFPIPE_FAULT_OTHER_URL`` (another allow-listed origin) by absolute URL."""
    await vu.get("/ok", name="target")
    await vu.get(os.environ["PERFPIPE_FAULT_OTHER_URL"], name="other")
