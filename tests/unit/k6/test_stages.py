"""Stage windows of a k6 run from its options, so steady-window thresholds apply to it."""

from include.perfpipe.k6.stages import stage_windows


def ramping(*stages, start_time=None, start_vus=None) -> dict:
    return {
        "executor": "ramping-vus",
        "startTime": start_time,
        "startVUs": start_vus,
        "stages": [{"duration": d, "target": t} for d, t in stages],
    }


def test_the_bundled_load_shape_ramps_holds_and_ramps_down():
    options = {
        "scenarios": {
            "browse": ramping(("1m0s", 150), ("3m0s", 150), ("1m0s", 0)),
            "buy": ramping(("1m0s", 50), ("3m0s", 50), ("1m0s", 0)),
            "health": {"executor": "constant-arrival-rate", "startTime": None, "duration": "5m0s", "rate": 5},
        }
    }
    assert stage_windows(options) == [
        {"start_s": 0.0, "end_s": 60.0, "kind": "ramp"},
        {"start_s": 60.0, "end_s": 240.0, "kind": "hold"},
        {"start_s": 240.0, "end_s": 300.0, "kind": "ramp"},
    ]


def test_a_later_scenario_ramping_makes_the_stretch_a_ramp_and_gaps_have_no_window():
    options = {
        "scenarios": {
            "steady": {"executor": "constant-vus", "startTime": None, "duration": "30s", "vus": 5},
            "late": ramping(("10s", 20), start_time="10s", start_vus=0),
            "after": {"executor": "constant-vus", "startTime": "40s", "duration": "5s"},
        }
    }
    assert stage_windows(options) == [
        {"start_s": 0.0, "end_s": 10.0, "kind": "hold"},
        {"start_s": 10.0, "end_s": 20.0, "kind": "ramp"},
        {"start_s": 20.0, "end_s": 30.0, "kind": "hold"},
        {"start_s": 40.0, "end_s": 45.0, "kind": "hold"},
    ]


def test_iteration_executors_have_no_windows_and_a_duration_override_holds():
    options = {"scenarios": {"once": {"executor": "shared-iterations", "iterations": 100}}}
    assert stage_windows(options) == []
    # k6 consolidates a duration override into one constant-vus scenario, which holds throughout
    overridden = {"scenarios": {"default": {"executor": "constant-vus", "startTime": None, "duration": "20s"}}}
    assert stage_windows(overridden) == [{"start_s": 0.0, "end_s": 20.0, "kind": "hold"}]
