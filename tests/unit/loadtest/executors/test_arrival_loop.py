import asyncio

from include.perfpipe.loadtest.executors.arrival_loop import ArrivalLoop
from include.perfpipe.loadtest.executors.constant_arrival_rate import ConstantArrivalRate
from tests.unit.loadtest.executors.fake_vus import FakeVUs


def run(plan, **kwargs) -> FakeVUs:
    client = FakeVUs(plan, ArrivalLoop, **kwargs)
    asyncio.run(client.run_for(plan.duration_s))
    return client


def test_an_idle_vu_takes_the_next_arrival_and_leaves_at_the_end():
    client = run(ConstantArrivalRate(rate=20, duration="1s", max_vus=1).plan(), iteration_s=0.001)
    # one VU for them all, 50 ms apart: only a loop held up for most of the second drops them
    assert client.count_of("iterate") + client.dropped == 20 and client.count_of("iterate") > 1
    assert client.count_of("enter") == 1 and [n for w, n in client.log if w == "leave"] == [0]


def test_an_arrival_finding_every_vu_busy_is_dropped_and_counted():
    client = run(ConstantArrivalRate(rate=100, duration="0.2s", max_vus=2).plan(), iteration_s=None)
    assert client.count_of("iterate") == 2 and client.dropped == 18  # sent + dropped == arrivals
    assert client.rec.endpoints[("default", "iteration")].dropped == 18


def test_an_iteration_the_run_ended_before_is_dropped_and_its_vu_leaves():
    client = run(ConstantArrivalRate(rate=100, duration="0.1s", max_vus=20).plan(), outcome="unstarted")
    assert client.count_of("iterate") == client.dropped == client.count_of("leave") == 10
