"""Frames say class_name; what was written before the rename (klass) still reads."""

from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.validation.result import ValidationResult


def _legacy(data):
    """``data`` with every ``class_name`` key called ``klass``, as files and XComs had it before the rename."""
    if isinstance(data, dict):
        return {("klass" if k == "class_name" else k): _legacy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_legacy(v) for v in data]
    return data


def test_a_recorder_written_before_the_rename_reads_the_same():
    recorder = MetricsRecorder()
    recorder.record("GET /a", "api", 0.010, True, 200, 0.5)
    recorder.record("GET /h", "health", 0.002, True, 200, 1.5)
    old = _legacy(recorder.to_dict())
    assert "klass" in old["endpoints"][0] and "class_name" not in old["endpoints"][0]
    again = MetricsRecorder.from_dict(old).stats_frame(2.0)
    assert again.equals(recorder.stats_frame(2.0))
    assert set(again["class_name"]) == {"api", "health", "all"}


def test_a_validation_result_written_before_the_rename_keeps_its_classes():
    row = {"suite": "s", "window": "whole", "metric": "p95_ms", "klass": "api", "operator": "<", "threshold": 1.0}
    result = ValidationResult.from_dict({"verdict": "pass", "reason": "", "results": [{**row, "observed": 0.5}]})
    assert list(result.results["class_name"]) == ["api"]
