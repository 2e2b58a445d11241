import json

from include.perfpipe.cli import main
from tests.unit.reporting import synthetic


def test_cli_renders_a_bundle_and_exits_with_the_verdict_code(tmp_path, capsys):
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(synthetic.bundle(fail=False)))
    assert main(["report", str(bundle), "--out", str(tmp_path / "out"), "--results-db", ""]) == 0
    assert (tmp_path / "out" / "report.html").exists()
    assert "pass" in capsys.readouterr().out


def test_cli_names_the_bad_field_and_exits_3(tmp_path, capsys):
    data = synthetic.bundle()
    data["validation"]["verdict"] = "great"
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(data))
    assert main(["report", str(bundle), "--out", str(tmp_path / "out"), "--results-db", ""]) == 3
    assert "'great'" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing.json"), "--out", str(tmp_path / "out")]) == 3
