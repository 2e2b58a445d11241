import asyncio
from itertools import pairwise

from include.perfpipe.loadtest.executors.constant_vus import ConstantVUs
from include.perfpipe.loadtest.executors.per_vu_iterations import PerVUIterations
from include.perfpipe.loadtest.executors.ramping_vus import RampingVUs
from include.perfpipe.loadtest.executors.shared_iterations import SharedIterations
from include.perfpipe.loadtest.executors.vu_lifecycle import VULifecycle
from tests.unit.loadtest.executors.fake_vus import FakeVUs


def run(plan, seconds: float, **kwargs) -> FakeVUs:
    client = FakeVUs(plan, VULifecycle, **kwargs)
    asyncio.run(client.run_for(seconds))
    return client


def test_shared_iterations_are_run_exactly_once_and_every_vu_then_leaves():
    client = run(SharedIterations(vus=3, iterations=10, max_duration="5s").plan(), 5.0)
    assert client.count_of("iterate") == 10 and client.executor.finished()
    assert sorted(n for what, n in client.log if what == "leave") == [0, 1, 2]


def test_each_vu_runs_its_own_iterations():
    client = run(PerVUIterations(vus=2, iterations=3, max_duration="5s").plan(), 5.0)
    by_vu = [[n for what, n in client.log if what == "iterate"].count(vu) for vu in (0, 1)]
    assert by_vu == [3, 3] and client.executor.finished() and client.count_of("leave") == 2


def test_a_ramped_down_vu_finishes_its_iteration_then_leaves_once():
    plan = RampingVUs(start_vus=4, stages=[{"duration": "0.2s", "target": 4}, {"duration": "0.01s", "target": 0}])
    client = run(plan.plan(), 0.5, iteration_s=0.05)
    leaves = [n for what, n in client.log if what == "leave"]
    assert sorted(leaves) == [0, 1, 2, 3]
    last_iterations = {n: i for i, (what, n) in enumerate(client.log) if what == "iterate"}
    assert all(last_iterations[n] < client.log.index(("leave", n)) for n in range(4))
    assert client.executor.active() == 0


def test_pacing_spaces_a_vus_iterations_and_the_end_cuts_the_wait():
    client = run(ConstantVUs(vus=1, duration="0.35s").plan(), 0.35, iteration_s=0.01, pacing_s=0.1)
    gaps = [b - a for a, b in pairwise(client.starts)]
    assert 1 <= len(client.starts) <= 4 and all(gap >= 0.095 for gap in gaps)  # at 0, 0.1, 0.2, 0.3 s at most
    assert client.log[-1] == ("leave", 0) and client.count_of("leave") == 1


def test_a_vu_that_stops_itself_is_counted_and_leaves():
    client = run(ConstantVUs(vus=2, duration="1s").plan(), 0.2, outcome="stop")
    assert client.count_of("iterate") == client.count_of("vu_stopped") == client.count_of("leave") == 2
