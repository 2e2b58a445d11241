"""Synthetic runs recorded into a real MetricsRecorder (no load engine needed)."""

from __future__ import annotations

import random

from include.perfpipe.metrics import MetricsRecorder

DURATION_S = 120
# ramp-up 0-30 s, hold 30-90 s, ramp-down 90-120 s
STAGES = [
    {"start_s": 0.0, "end_s": 30.0, "kind": "ramp"},
    {"start_s": 30.0, "end_s": 90.0, "kind": "hold"},
    {"start_s": 90.0, "end_s": 120.0, "kind": "ramp"},
]
HEALTHY = {"loop_lag_p99_ms": 1.0, "cpu_percent": 20.0, "dropped": 0, "saturated": False, "reasons": []}


def record_run(
    latency_s,
    per_second: int = 20,
    classes=("api",),
    seed: int = 7,
    ok=lambda t, i: True,
    status=lambda t, i, ok: 200 if ok else 500,
) -> MetricsRecorder:
    """``latency_s(class_name, t, i)`` gives the latency of request ``i`` of second ``t``."""
    rng = random.Random(seed)
    recorder = MetricsRecorder()
    for t in range(DURATION_S):
        recorder.set_active_vus(t + 0.5, 10)
        for class_name in classes:
            for i in range(per_second):
                good = ok(t, i)
                jitter = rng.uniform(0.9, 1.1)
                recorder.record(
                    f"{class_name}_endpoint",
                    class_name,
                    latency_s(class_name, t, i) * jitter,
                    good,
                    status(t, i, good),
                    t + rng.random() * 0.99,
                )
        recorder.seal_before(t)
    recorder.seal_before(DURATION_S + 1)
    return recorder


def flat(seconds: float):
    return lambda class_name, t, i: seconds
