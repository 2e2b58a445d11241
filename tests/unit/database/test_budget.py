"""A DB task's budget: each statement gets the smaller of its cap and what is left, less a reserve."""

import pytest

from include.perfpipe.database import Budget
from include.perfpipe.errors import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_statement_gets_its_cap_or_what_is_left_less_the_reserve():
    clock = Clock()
    budget = Budget(1140, clock)  # db_stage: 20 min less the 60 s margin
    assert budget.statement_timeout(300) == 300
    clock.now += 1000  # inspection and the VACUUMs took 1000 s
    assert budget.statement_timeout(300) == pytest.approx(140)
    assert budget.statement_timeout(900, reserve=60) == pytest.approx(80)
    assert budget.statement_timeout(None) == pytest.approx(140)  # no cap of its own


def test_nothing_is_started_with_less_than_a_second_left():
    clock = Clock()
    budget = Budget(10, clock)
    clock.now += 9.5
    assert budget.statement_timeout(300) is None
    clock.now += 60
    assert budget.remaining() == 0.0
    assert budget.spent("VACUUM") == "VACUUM not started: 0 s of the task's 10 s time budget left"


@pytest.mark.parametrize("seconds", [0, -60, float("nan")])
def test_a_budget_must_be_positive(seconds):
    with pytest.raises(ConfigError, match="budget: must be > 0 seconds"):
        Budget(seconds)
