import pytest
from pydantic import ValidationError

from include.perfpipe.loadtest.executors.ramping_vus import RampingVUs


def test_plan_ramps_vus_from_start_through_the_stages():
    plan = RampingVUs(start_vus=5, stages=[{"duration": "10s", "target": 20}, {"duration": "1m", "target": 0}]).plan()
    assert (plan.model, plan.start, plan.max_vus, plan.duration_s) == ("closed", 5.0, 20, 70.0)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        RampingVUs(stages=[{"duration": 0, "target": 2.5}])
    text = str(caught.value)
    assert "longer than 0 s" in text and "whole number of VUs, got 2.5" in text
