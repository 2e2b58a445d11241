"""The baseline is chosen among runs of the same workload; counts compare only across equal durations."""

from include.perfpipe.regression.baseline import choose_baseline, comparable, workload_shape


def spec(duration_s: float = 60.0, vus: float = 1.0, endpoints=("health", "items")) -> dict:
    return {
        "model": "closed",
        "start": vus,
        "max_vus": 0,
        "think_time_s": [0.0, 0.0],
        "stages": [{"duration_s": duration_s, "target": vus}],
        "endpoints": [
            {
                "name": n,
                "method": "GET",
                "class_name": "api",
                "weight": 1.0,
                "url": f"http://x/{n}",
                "headers": {"Authorization": "secret"},
            }
            for n in endpoints
        ],
    }


def run(run_id: str, shape: dict | None, verdict: str = "pass", is_baseline: bool = False, gate=None) -> dict:
    return {"run_id": run_id, "shape": shape, "verdict": verdict, "is_baseline": is_baseline, "regression": gate}


def test_the_marked_baseline_wins_among_comparable_runs():
    shape = workload_shape(spec())
    baseline, why = choose_baseline(shape, [run("newer", shape), run("marked", shape, is_baseline=True)])
    assert baseline["run_id"] == "marked" and why == "the run marked as baseline"


def test_a_run_the_gate_failed_or_called_an_outlier_is_never_the_baseline_unless_marked():
    shape = workload_shape(spec())
    candidates = [run("regressed", shape, gate="regression"), run("outlier", shape, gate="outlier"), run("ok", shape)]
    assert choose_baseline(shape, candidates)[0]["run_id"] == "ok"
    accepted = [run("regressed", shape, is_baseline=True, gate="regression"), run("ok", shape)]
    assert choose_baseline(shape, accepted)[0]["run_id"] == "regressed"
    baseline, why = choose_baseline(shape, candidates[:1])
    assert baseline is None and "a regression gate that called it regression" in why


def test_a_marked_baseline_of_another_duration_is_passed_over_for_a_comparable_run():
    shape = workload_shape(spec(duration_s=20))
    candidates = [
        run("long", workload_shape(spec(duration_s=60)), is_baseline=True),
        run("failed", shape, verdict="fail"),
        run("short", shape),
    ]
    baseline, why = choose_baseline(shape, candidates)
    assert baseline["run_id"] == "short"
    assert (
        why == "the last passing run with the same workload (the marked baseline has a different stage plan "
        "(durations and VUs or rate))"
    )


def test_other_vus_scenario_or_unrecorded_shapes_are_not_comparable():
    shape = workload_shape(spec())
    candidates = [
        run("more_vus", workload_shape(spec(vus=10))),
        run("other_scenario", workload_shape(spec(endpoints=("health",)))),
        run("legacy", None),
    ]
    baseline, why = choose_baseline(shape, candidates)
    assert baseline is None
    assert why.startswith("no comparable baseline: the 3 earlier run(s) of this target and profile have ")
    assert "a different scenario" in why and "its workload shape was not recorded" in why
    assert choose_baseline(shape, [])[1] == "no earlier run of this target and profile"


def test_the_shape_keeps_no_headers_or_urls():
    text = repr(workload_shape(spec()))
    assert "secret" not in text and "http://" not in text


def test_counts_compare_only_across_equal_durations_rates_and_latencies_always():
    assert comparable("requests", 60.0, 60.2) and comparable("errors", 20.0, 20.0)
    assert not comparable("requests", 60.0, 20.0) and not comparable("errors", None, 20.0)
    assert comparable("rps", 60.0, 20.0) and comparable("p95_ms", 60.0, 20.0) and comparable("error_rate", 60, 20)
