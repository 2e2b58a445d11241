"""Python journeys for the fault tests."""

import os


async def escape(vu):
    """One request to the target, then one to ``$PERFPIPE_FAULT_OUTSIDE_URL`` (a host outside the allowlist)."""
    await vu.get("/ok", name="inside")
    try:
        await vu.get(os.environ["PERFPIPE_FAULT_OUTSIDE_URL"], name="outside")
    finally:
        await vu.sleep(0.2)
