import pytest
from pydantic import ValidationError

from include.perfpipe.loadtest.executors.constant_arrival_rate import ConstantArrivalRate


def test_plan_is_a_constant_open_model_rate():
    plan = ConstantArrivalRate(rate=50, duration="20s", max_vus=30).plan()
    assert (plan.model, plan.start, plan.stages, plan.max_vus) == (
        "open",
        50.0,
        [{"duration_s": 20.0, "target": 50.0}],
        30,
    )


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        ConstantArrivalRate(rate=0, duration=0, max_vus=0, time_unit=0)
    assert str(caught.value).count("must be more than 0") == 4
