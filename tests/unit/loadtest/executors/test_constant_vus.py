import pytest
from pydantic import ValidationError

from include.perfpipe.loadtest.executors.constant_vus import ConstantVUs


def test_plan_holds_the_vus_for_the_duration():
    plan = ConstantVUs(vus=7, duration="30s").plan()
    assert (plan.model, plan.start, plan.stages, plan.max_vus) == (
        "closed",
        7.0,
        [{"duration_s": 30.0, "target": 7.0}],
        7,
    )


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        ConstantVUs(vus=0, duration=0)
    assert "vus must be more than 0" in str(caught.value) and "duration must be more than 0" in str(caught.value)
