"""Shared synthetic runs (built once per session: recording and framing cost ~0.2 s each)."""

import pytest

from include.perfpipe.regression import compare_runs
from tests.unit.regression.synthetic import SLOWER_API, synthetic_frames


@pytest.fixture(scope="session")
def baseline_frames() -> dict:
    return synthetic_frames(seed=1)


@pytest.fixture(scope="session")
def slower_api_frames() -> dict:
    """Every api request 20 % slower; health untouched."""
    return synthetic_frames(seed=2, scale=SLOWER_API)


@pytest.fixture(scope="session")
def regressed_comparison(baseline_frames, slower_api_frames):
    return compare_runs(baseline_frames, slower_api_frames)
