"""Which executor runs a part: every closed-model executor's plan is run by the one VU lifecycle, every open-model
one's by the one arrival loop (their plans differ in stages and iteration budgets, not in how they run)."""

from __future__ import annotations

from include.perfpipe.loadtest.engine.client import VUs
from include.perfpipe.loadtest.engine.generator import Executor
from include.perfpipe.loadtest.executors.arrival_loop import ArrivalLoop
from include.perfpipe.loadtest.executors.vu_lifecycle import VULifecycle


def executor_for(part: VUs) -> Executor:
    """The executor that applies ``part.spec``'s plan to ``part``'s VUs."""
    return ArrivalLoop(part) if part.spec.model == "open" else VULifecycle(part)
