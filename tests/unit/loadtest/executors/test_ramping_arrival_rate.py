import pytest
from pydantic import ValidationError

from include.perfpipe.loadtest.executors.ramping_arrival_rate import RampingArrivalRate


def test_rates_per_time_unit_become_iterations_per_second():
    plan = RampingArrivalRate(
        start_rate=60, time_unit="1m", stages=[{"duration": "10s", "target": 120}], max_vus=9
    ).plan()
    assert (plan.model, plan.start, plan.stages[0]["target"], plan.max_vus) == ("open", 1.0, 2.0, 9)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        RampingArrivalRate(time_unit=0, stages=[], max_vus=0)
    text = str(caught.value)
    assert all(p in text for p in ("time_unit must be more", "max_vus must be more", "at least one"))
