"""End to end: the CLI (with the validation package's verdict) and worker processes, on loopback."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from tests.unit.loadtest.server import LoopbackServer

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "include.perfpipe", "loadtest", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_worker_processes_merge_into_one_result():
    with LoopbackServer() as server:
        progress = []
        spec = load_spec(
            "smoke", server.url("/sleep/10"), overrides={"vus": 6, "duration": "2s", "progress_interval": 1}
        )
        result = run_load_test(spec, processes=2, progress=progress.append)
        served = server.requests
    total = result.stats_frame().set_index("name").loc["all"]
    assert total["count"] == served > 0 and result.health["processes"] == 2
    series = result.timeseries_frame().query("class_name == 'all' and t < 2")
    assert set(series.active_vus) == {6}  # 3 + 3 VUs from two processes
    assert progress and progress[0]["vus"] == 6


def test_cli_writes_summary_and_timeseries(tmp_path):
    with LoopbackServer() as server:
        run = _cli(
            "--target", server.url("/ok"), "--vus", "2", "--duration", "2s", "--class", "health", "--out", str(tmp_path)
        )
        served = server.requests
    assert run.returncode in (0, 1, 2), run.stderr
    assert "great_expectations" not in run.stderr and " INFO " not in run.stderr  # quiet without -v
    assert run.stdout.splitlines()[0].endswith("summary.json")  # the verdict line
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"] in ("pass", "fail", "invalid") and summary["validation"]["exit_code"] == run.returncode
    assert summary["totals"]["count"] == served and list(summary["classes"]) == ["health"]
    assert summary["endpoints"]["GET /ok"]["p99_ms"] > 0 and summary["stages"][0]["kind"] == "hold"
    series = pd.read_csv(tmp_path / "timeseries.csv")
    assert series.query("class_name == 'all'").requests.sum() == served


def test_cli_refuses_a_target_off_the_allowlist(tmp_path):
    run = _cli("--target", "http://example.com/", "--vus", "1", "--duration", "1s", "--out", str(tmp_path))
    assert run.returncode == 3 and "allowlist" in run.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["verdict"] == "error"


def test_cli_bad_input_exits_3(tmp_path):
    run = _cli("--target", "http://127.0.0.1:9/", "--duration", "soon", "--out", str(tmp_path))
    assert run.returncode == 3 and "duration" in run.stderr and "'soon'" in run.stderr


def test_cli_shows_library_logs_with_v(tmp_path):
    with LoopbackServer() as server:
        run = _cli(
            "--target",
            server.url("/ok"),
            "--vus",
            "1",
            "--duration",
            "1s",
            "--processes",
            "1",
            "--out",
            str(tmp_path),
            "-v",
        )
    assert run.returncode in (0, 1, 2), run.stderr
    assert "INFO great_expectations" in run.stderr
