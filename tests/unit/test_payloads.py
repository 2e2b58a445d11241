"""Task-to-task payloads are checked where they arrive: a wrong shape names its field."""

import pytest

from include.perfpipe.payloads import LoadResultPayload, Publication, RunBundle, RunPlan, ValidationPayload, checked
from tests.unit.reporting import synthetic

PLAN = {
    "run": {"dag_id": "perf_smoke", "run_id": "r1", "profile": "smoke", "target": "http://127.0.0.1:8000"},
    "spec": {"model": "closed"},
    "shards": [{"index": 0, "count": 2, "start_at": 1.0}, {"index": 1, "count": 2, "start_at": 1.0}],
}


def test_good_payloads_pass_through_unchanged():
    assert checked(RunPlan, PLAN, "plan") is PLAN
    load = synthetic.load_result()
    assert checked(LoadResultPayload, load, "load") is load
    validation = synthetic.validation_result()
    assert checked(ValidationPayload, validation, "validation") is validation
    bundle = synthetic.bundle()
    assert checked(RunBundle, bundle, "bundle") is bundle


@pytest.mark.parametrize(
    ("model", "value", "message"),
    [
        (RunPlan, {**PLAN, "run": {**PLAN["run"], "run_id": ""}}, "plan.run.run_id: String should have at least 1"),
        (RunPlan, {k: v for k, v in PLAN.items() if k != "shards"}, "plan.shards: Field required"),
        (RunPlan, {**PLAN, "shards": [{"index": 2, "count": 2}]}, "plan.shards[0]: Value error, index 2 is not below"),
        (RunPlan, {**PLAN, "shards": [{"index": "x", "count": 1}]}, "plan.shards[0].index: Input should be a valid"),
        (
            LoadResultPayload,
            {**synthetic.load_result(), "stages": [{"start_s": 0, "end_s": 1, "kind": "warm"}]},
            "plan.stages[0].kind: Input should be 'ramp' or 'hold', got 'warm'",
        ),
        (ValidationPayload, {"verdict": "great", "reason": "", "results": []}, "plan.verdict: Input should be"),
        (Publication, {"verdict": "pass"}, "plan.reason: Field required"),
        (RunPlan, None, "plan: Input should be a valid dictionary"),
    ],
)
def test_a_wrong_shape_names_the_field(model, value, message):
    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        checked(model, value, "plan")


def test_containers_are_not_echoed():
    with pytest.raises(ValueError, match="plan.spec: Input should be a valid dictionary, got a list"):
        checked(RunPlan, {**PLAN, "spec": ["secret-token"]}, "plan")


def test_report_cli_names_the_wrong_field_of_a_bundle(tmp_path, capsys):
    import json

    from include.perfpipe.cli import main

    bundle = synthetic.bundle()
    bundle["validation"] = {**bundle["validation"], "verdict": "great"}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    assert main(["report", str(path), "--out", str(tmp_path / "out"), "--results-db", ""]) == 3
    assert "bundle.validation.verdict: Input should be 'pass', 'fail', 'invalid' or 'error'" in capsys.readouterr().out
