"""judge_run: one GX verdict for a merged load result and an optional DB benchmark."""

import pytest

from include.perfpipe.loadtest.result import LoadResult
from include.perfpipe.metrics import MetricsRecorder
from include.perfpipe.runs import judge_run, run_dir
from include.perfpipe.validation import load_thresholds

THRESHOLDS = load_thresholds(profile="smoke", target="http://127.0.0.1:8000")
HEALTHY = {"saturated": False, "dropped": 0, "reasons": []}


def result(class_name: str, latency_s: float, name: str, health: dict = HEALTHY) -> dict:
    recorder = MetricsRecorder()
    for i in range(400):
        recorder.record(name, class_name, latency_s, True, 200, i / 40)
        recorder.set_active_vus(i / 40, 1)
    return {
        "spec": {},
        "started_at": "2026-12-07T00:00:00+00:00",
        "ended_at": "2026-12-07T00:00:10+00:00",
        "metrics": recorder.to_dict(),
        "duration_s": 10.0,
        "stages": [{"start_s": 0, "end_s": 10, "kind": "hold"}],
        "health": health,
        "aborted": False,
        "abort_reason": None,
    }


def judged(benchmark: dict, out_dir) -> dict:
    """The verdict of a fast API run with this DB benchmark."""
    return judge_run(
        LoadResult.from_dict(result("api", 0.02, "list")), THRESHOLDS, out_dir, benchmark=benchmark
    ).to_dict()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("judge")


def test_fast_run_with_a_healthy_benchmark_passes(out_dir):
    verdict = judged(result("db", 0.005, "select_one"), out_dir / "a")
    assert verdict["verdict"] == "pass", verdict["reason"]


def test_a_slow_db_query_fails_the_run(out_dir):
    verdict = judged(result("db", 0.3, "slow_select"), out_dir / "b")
    assert verdict["verdict"] == "fail"
    assert "db" in verdict["reason"]


def test_a_saturated_benchmark_client_makes_the_run_invalid(out_dir):
    starved = {"saturated": True, "dropped": 0, "reasons": ["event-loop lag p99 80 ms"]}
    verdict = judged(result("db", 0.005, "q", starved), out_dir / "c")
    assert verdict["verdict"] == "invalid"
    assert "DB benchmark: event-loop lag" in verdict["reason"]


def test_a_busy_but_prompt_benchmark_client_is_a_note_not_a_verdict(out_dir):
    busy = {**HEALTHY, "notes": ["generator CPU 99 % >= 95 % of a core"]}
    verdict = judged(result("db", 0.005, "q", busy), out_dir / "d")
    assert verdict["verdict"] == "pass", verdict["reason"]
    assert "DB benchmark: generator CPU 99 % >= 95 % of a core" in verdict["notes"]


def test_run_dir_is_path_and_url_safe(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFPIPE_REPORTS_DIR", str(tmp_path))
    path = run_dir("perf_smoke", "manual__2026-11-27T11:00:00+00:00")
    assert path == tmp_path / "perf_smoke" / "manual__2026-11-27T11~3A00~3A00~2B00~3A00" and path.is_dir()
