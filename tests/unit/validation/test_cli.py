import json
import re
from pathlib import Path

import pytest
import yaml

from include.perfpipe.cli import main
from include.perfpipe.validation import load_thresholds
from tests.unit.validation.synthetic import DURATION_S, HEALTHY, STAGES, flat, record_run

DOCS = Path(__file__).resolve().parents[3] / "docs" / "thresholds.md"


def result_file(tmp_path, latency_s, **extra):
    recorder = record_run(flat(latency_s), classes=("api",))
    data = {
        "spec": {"profile": "smoke", "target": "http://127.0.0.1:8000"},
        "duration_s": DURATION_S,
        "metrics": recorder.to_dict(),
        "stages": STAGES,
        "health": HEALTHY,
        **extra,
    }
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    return path


def test_cli_exits_with_the_verdict_code(tmp_path, capsys):
    path = result_file(tmp_path, 0.02)
    assert main(["validate", "--result", str(path), "--override", '{"api": {"p95_ms": "< 10ms"}}']) == 1
    out = capsys.readouterr().out
    assert out.startswith("fail: 3 of 8 checks breached: latency api p95_ms over whole") and "(limit < 10)" in out
    saved = json.loads((tmp_path / "validation.json").read_text())
    assert saved["verdict"] == "fail" and (tmp_path / saved["data_docs"]).is_file()
    assert not Path(saved["data_docs"]).is_absolute() and str(tmp_path / saved["data_docs"]) in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--override", '{"apx": {"p95_ms": 1}}'], "overrides.apx"),
        (["--thresholds", "/nonexistent/t.yaml"], "/nonexistent/t.yaml"),
    ],
)
def test_cli_bad_input_exits_3_naming_the_problem(tmp_path, capsys, args, message):
    assert main(["validate", "--result", str(result_file(tmp_path, 0.02)), *args]) == 3
    assert message in capsys.readouterr().err


def test_cli_rejects_a_summary_without_histograms(tmp_path, capsys):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"version": 1, "verdict": None, "totals": {}}))
    assert main(["validate", "--result", str(path)]) == 3
    assert "missing metrics" in capsys.readouterr().err


def test_the_documented_example_is_a_valid_threshold_file(tmp_path):
    example = re.search(r"## Example: your own service\s+```yaml\n(.*?)```", DOCS.read_text(), re.S).group(1)
    path = tmp_path / "thresholds.yaml"
    path.write_text(example)
    t = load_thresholds(path, profile="stress", target="https://staging.example.com/api")
    limits = {(r.class_name, r.metric): r.limit for r in t.rules}
    assert limits[("api", "p95_ms")] == 600.0 and limits[("search", "p95_ms")] == 1000.0
    assert limits[("all", "rps")] == 400.0
    assert [r["class_name"] for r in t.abort_rules()] == ["checkout"] * 3
    assert yaml.safe_load(example)["classes"] == ["health", "api", "search", "checkout"]
