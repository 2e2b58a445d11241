import pytest
from pydantic import ValidationError

from include.perfpipe.loadtest.engine.generator import share
from include.perfpipe.loadtest.executors.shared_iterations import SharedIterations, part_iterations


def test_plan_shares_the_iterations():
    plan = SharedIterations(vus=3, iterations=100, max_duration="2m").plan()
    assert (plan.model, plan.max_vus, plan.shared_iterations, plan.duration_s) == ("closed", 3, 100, 120.0)


@pytest.mark.parametrize(("total", "vus", "parts"), [(10_000, 7, 4), (25, 3, 2), (5, 5, 8), (101, 10, 3)])
def test_parts_own_every_iteration_exactly_once_in_proportion_to_their_vus(total, vus, parts):
    owned = [part_iterations(total, vus, p, parts) for p in range(parts)]
    assert sum(owned) == total
    for p in range(parts):
        assert (owned[p] == 0) == (share(vus, p, parts) == 0)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        SharedIterations(vus=5, iterations=3, max_duration=0)
    text = str(caught.value)
    assert "iterations (3) must be at least vus (5)" in text and "max_duration must be more than 0" in text
