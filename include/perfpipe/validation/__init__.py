"""Validation of every run against threshold suites with Great Expectations, ending in a verdict.

``load_thresholds`` reads ``include/config/thresholds.yaml`` (schema: docs/thresholds.md);
``validate`` checks a run's tidy frames and returns a ``ValidationResult`` (docs/validation.md).
Importing this package does not import great_expectations; ``validate`` does, when it runs.
"""

from include.perfpipe.validation.result import ValidationResult, Verdict
from include.perfpipe.validation.thresholds import Threshold, ThresholdConfigError, Thresholds, load_thresholds
from include.perfpipe.validation.validate import validate

__all__ = [
    "Threshold",
    "ThresholdConfigError",
    "Thresholds",
    "ValidationResult",
    "Verdict",
    "load_thresholds",
    "validate",
]
