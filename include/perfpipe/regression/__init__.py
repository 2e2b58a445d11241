"""Regression analysis: compare a run with its baseline, find change points in the history, gate releases.

Airflow-free; scipy and ruptures are imported inside the functions that use them.
"""

from include.perfpipe.regression.changepoints import detect_change_points
from include.perfpipe.regression.compare import compare_runs
from include.perfpipe.regression.frames import run_frames
from include.perfpipe.regression.gate import gate_decision, release_verdict
from include.perfpipe.regression.section import regression_section

__all__ = [
    "compare_runs",
    "detect_change_points",
    "gate_decision",
    "regression_section",
    "release_verdict",
    "run_frames",
]
