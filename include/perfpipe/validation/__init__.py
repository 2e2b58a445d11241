"""Validation of every run against threshold suites with Great Expectations, ending in a verdict.

``load_thresholds`` reads ``include/config/thresholds.yaml`` (schema: docs/thresholds.md);
``validate`` checks a run's tidy frames and returns a ``ValidationResult`` (docs/validation.md);
``run_verdict`` decides a whole run's verdict from its bundle, for every consumer.
Importing this package does not import great_expectations; ``validate`` does, when it runs.
"""

from include.perfpipe.validation.result import ValidationResult
from include.perfpipe.validation.threshold_models import ThresholdConfigError
from include.perfpipe.validation.thresholds import Threshold, Thresholds, load_thresholds
from include.perfpipe.validation.validate import validate
from include.perfpipe.validation.verdict import VERDICTS, Verdict, run_verdict

__all__ = [
    "VERDICTS",
    "Threshold",
    "ThresholdConfigError",
    "Thresholds",
    "ValidationResult",
    "Verdict",
    "load_thresholds",
    "run_verdict",
    "validate",
]
