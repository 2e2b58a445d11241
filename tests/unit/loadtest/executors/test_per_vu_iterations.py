import pytest
from pydantic import ValidationError

from include.perfpipe.loadtest.executors.per_vu_iterations import PerVUIterations


def test_plan_gives_each_vu_its_iterations_within_max_duration():
    plan = PerVUIterations(vus=4, iterations=10, max_duration="1m").plan()
    assert (plan.model, plan.max_vus, plan.per_vu_iterations, plan.duration_s) == ("closed", 4, 10, 60.0)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        PerVUIterations(vus=0, iterations=0, max_duration=0)
    assert str(caught.value).count("must be more than 0") == 3
