import json

import pytest

from include.perfpipe.cli import main
from include.perfpipe.loadtest.result import LoadResult
from tests.unit.regression.synthetic import SLOWER_API, hold_all, record_run, synthetic_run


def _write_engine_dir(path, seed, **kwargs):
    """A run folder exactly as the load engine writes it (summary.json + timeseries.csv)."""
    result = LoadResult(
        spec={"target": "http://127.0.0.1:8000", "profile": "load"},
        started_at="2026-11-27T01:00:00Z",
        ended_at="2026-11-27T01:00:40Z",
        duration_s=40.0,
        metrics=record_run(seed, **kwargs),
        stages=hold_all(),
        health={},
    )
    result.write(path)
    return path


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {
        "baseline": _write_engine_dir(root / "baseline", 1),
        "same": _write_engine_dir(root / "same", 21),
        "slower": _write_engine_dir(root / "slower", 2, scale=SLOWER_API),
    }


def test_regression_exits_1_and_writes_json(run_dirs, tmp_path, capsys):
    out = tmp_path / "comparison.json"
    code = main(
        ["compare", "--baseline", str(run_dirs["baseline"]), "--current", str(run_dirs["slower"]), "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 1
    assert "REGRESSION: " in printed and "api p95_ms +" in printed
    document = json.loads(out.read_text())
    assert document["gate"]["regressed"] is True
    assert any(
        r["name"] == "api" and r["metric"] == "p95_ms" and r["direction"] == "regression"
        for r in document["comparison"]
    )


def test_same_distribution_exits_0(run_dirs, capsys):
    code = main(["compare", "--baseline", str(run_dirs["baseline"]), "--current", str(run_dirs["same"])])
    assert code == 0
    assert "ok: no significant regression" in capsys.readouterr().out


def test_folder_and_load_result_file_give_the_same_verdict(run_dirs, tmp_path, capsys):
    result_file = tmp_path / "result.json"
    result_file.write_text(json.dumps(synthetic_run(2, scale=SLOWER_API)))
    assert main(["compare", "--baseline", str(run_dirs["baseline"]), "--current", str(result_file)]) == 1
    assert "api p95_ms +" in capsys.readouterr().out


def test_report_shaped_summary_with_row_lists_is_read(run_dirs, tmp_path):
    from include.perfpipe.regression.rundir import read_run

    engine = json.loads((run_dirs["slower"] / "summary.json").read_text())
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    (report_dir / "timeseries.csv").write_text((run_dirs["slower"] / "timeseries.csv").read_text())
    (report_dir / "summary.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "loadtest": {"stages": engine["stages"]},
                "total": {**engine["totals"], "scope": "total", "name": "all"},
                "classes": [{**row, "name": name} for name, row in engine["classes"].items()],
                "endpoints": [{**row, "name": name} for name, row in engine["endpoints"].items()],
            }
        )
    )
    from_report, from_engine = read_run(report_dir), read_run(run_dirs["slower"])
    assert from_report["stages"] == from_engine["stages"]
    assert sorted(from_report["stats"]["name"]) == sorted(from_engine["stats"]["name"])
    assert len(from_report["timeseries"]) == len(from_engine["timeseries"])


def test_missing_folder_exits_3_naming_the_file(run_dirs, tmp_path, capsys):
    missing = tmp_path / "nope"
    code = main(["compare", "--baseline", str(missing), "--current", str(run_dirs["same"])])
    assert code == 3
    assert f"baseline: no such file {missing}" in capsys.readouterr().err


def test_folder_without_timeseries_exits_3(run_dirs, tmp_path, capsys):
    folder = tmp_path / "no_csv"
    folder.mkdir()
    (folder / "summary.json").write_text((run_dirs["same"] / "summary.json").read_text())
    assert main(["compare", "--baseline", str(run_dirs["baseline"]), "--current", str(folder)]) == 3
    assert "timeseries.csv does not exist" in capsys.readouterr().err
