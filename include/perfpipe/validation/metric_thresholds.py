"""Thresholds on custom metrics: the scenario file's ``metrics.<name>.thresholds`` as ``Threshold`` rules
of suite ``metrics`` (class = the metric's name, metric = the stat), checked against the ``metrics_frame``."""

from __future__ import annotations

import pandas as pd

from include.perfpipe.custom_metrics import CustomMetrics
from include.perfpipe.validation.thresholds import WHOLE, Threshold

METRIC_SUITE = "metrics"


def metric_rules(spec: dict | None) -> list[Threshold]:
    """The rules a run's spec declares on its custom metrics (none for a run without a journey)."""
    declared = ((spec or {}).get("journey") or {}).get("metrics") or {}
    return [
        Threshold(METRIC_SUITE, name, limit["stat"], limit["operator"], float(limit["limit"]), (WHOLE,))
        for name, metric in sorted(declared.items())
        for limit in (metric.get("thresholds") or {}).values()
    ]


def metrics_of(result: dict) -> tuple[pd.DataFrame, list[Threshold]]:
    """``(metrics_frame, rules)`` of a ``LoadResult``-shaped dict."""
    journey = result.get("journey") or {}
    frame = CustomMetrics.from_dict(journey.get("metrics")).frame(float(result["duration_s"]))
    return frame, metric_rules(result.get("spec"))
