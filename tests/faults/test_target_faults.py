"""Fault matrix rows 2, 3 and 4: the target dies, answers 5xx, or hangs, while a load test runs.

The target is a server process of its own on loopback (``target.py``), killed by its PID."""

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from include.perfpipe.loadtest import load_spec, run_load_test
from include.perfpipe.reporting import render_report
from tests.faults.conftest import target_process

pytestmark = pytest.mark.integration


HANG_GUARD_S = 120  # the hanging target answers after 600 s: a run still going by now waited for it


def _stall_s(result) -> float:
    """The longest the engine's event loop was held up (its own loop-lag record): on a starved CPU each
    check it makes each tick comes that much later, on its own clock too."""
    return result.health["loop_lag_max_ms"] / 1000


def _published(result, tmp_path) -> tuple[str, dict]:
    """The report files publish renders for a run that ended with this load test (no validation)."""
    run = {"dag_id": "faults", "run_id": "row", "profile": "smoke", "target": result.spec["target"], "version": None}
    bundle = {"run": run, "loadtest": result.to_dict(), "validation": None, "database": None, "regression": None}
    paths = render_report({**bundle, "failure": None}, tmp_path)
    return paths["html"].read_text() + paths["markdown"].read_text(), json.loads(paths["json"].read_text())


def test_target_dying_mid_test_trips_the_circuit_breaker_and_the_report_says_so(tmp_path):
    """Row 2: the target process is SIGKILLed once the engine has counted its first answers; its refused
    connections are counted as errors, the circuit breaker (50 % errors over 2 s) stops the test long before
    its 20 s, and the report names why."""
    killed_at: list[float] = []  # the engine's elapsed seconds at the kill
    with target_process() as (proc, base):

        def kill_once_served(snapshot: dict) -> None:
            if not killed_at and snapshot["requests"] > snapshot["errors"]:
                os.kill(proc.pid, signal.SIGKILL)
                killed_at.append(snapshot["elapsed_s"])

        spec = load_spec(
            "smoke",
            f"{base}/ok",
            overrides={
                "vus": 4,
                "duration": "20s",
                "timeout": "1s",
                "progress_interval": 1,
                "circuit_breaker": {"error_rate": 0.5, "window_s": 2, "min_requests": 5},
            },
        )
        result = run_load_test(spec, processes=1, progress=kill_once_served)
    assert killed_at, "the target was never killed: no progress snapshot with an answer"
    assert result.aborted and result.abort_reason.startswith("circuit breaker: error rate")
    # on the engine's clock: the first whole 2 s window after the kill (it starts at the next second), then the
    # tick that judges it, held up at most by the loop lag the engine measured
    assert result.duration_s <= killed_at[0] + 1 + 2 + 0.5 + _stall_s(result), (killed_at, result.duration_s)
    total = result.stats_frame().set_index("name").loc["all"]
    assert total["errors"] >= 5 and total["count"] > total["errors"]  # served first, then refused
    refused = json.loads(total["status_counts"]) if isinstance(total["status_counts"], str) else total["status_counts"]
    assert set(refused) - {"200"}, refused  # the failures are named (ConnectError ...), apart from the 200s
    text, summary = _published(result, tmp_path)
    assert summary["verdict"]["verdict"] == "error"
    assert result.abort_reason in text and "circuit breaker" in summary["verdict"]["reason"]


def test_5xx_storm_is_stopped_by_abort_on_fail_within_its_window():
    """Row 3: every answer a 503; the error-rate rule (abort_on_fail, 2 s window, judged from 1 s) stops
    the 20 s test within delay + window + one tick, before the slower circuit breaker would."""
    with target_process() as (_, base):
        spec = load_spec(
            "smoke",
            f"{base}/status/503",
            overrides={
                "vus": 2,
                "duration": "20s",
                "abort_rules": [
                    {
                        "class_name": "all",
                        "metric": "error_rate",
                        "operator": "<",
                        "limit": 0.01,
                        "window_s": 2,
                        "delay_s": 1,
                    }
                ],
                "circuit_breaker": {"error_rate": 0.5, "window_s": 10, "min_requests": 5},
            },
        )
        result = run_load_test(spec, processes=1)
    assert result.aborted and result.abort_reason.startswith("abort_on_fail: error_rate of class all"), (
        result.abort_reason
    )
    # on the engine's clock: delay + window + a tick and a half, held up at most by the loop lag it measured
    assert result.duration_s <= 1 + 2 + 1.5 + _stall_s(result), (result.duration_s, result.health)
    total = result.stats_frame().set_index("name").loc["all"]
    assert total["errors"] == total["count"] > 0


def test_hanging_target_times_requests_out_apart_from_errors_and_the_run_ends_on_time():
    """Row 4: a target that accepts and never answers (/sleep/600000): each request ends at the 1 s
    per-request timeout as ``ReadTimeout`` in status_counts (not a 5xx, not a connection error), and the
    2 s run ends by itself, each part within its drain (none ended at the run deadline), its workers gone."""
    import psutil

    with ThreadPoolExecutor(1) as pool, target_process() as (_, base):  # the target goes first, freeing the pool
        spec = load_spec("smoke", f"{base}/sleep/600000", overrides={"vus": 3, "duration": "2s", "timeout": "1s"})
        result = pool.submit(run_load_test, spec, processes=2).result(timeout=HANG_GUARD_S)
    health = result.health
    assert health["processes"] == 2 and not [r for r in health["reasons"] if "run deadline" in r], health
    total = result.stats_frame().set_index("name").loc["all"]
    counts = json.loads(total["status_counts"]) if isinstance(total["status_counts"], str) else total["status_counts"]
    assert counts.get("ReadTimeout", 0) >= 3, counts
    assert set(counts) <= {"ReadTimeout"}, counts  # timeouts counted as such, nothing else
    assert total["min_ms"] >= 990  # each ended by its 1 s timeout, none earlier (within the histogram's 1 %)
    assert not [
        p for p in psutil.Process().children(recursive=True) if "loadtest.engine.worker" in " ".join(p.cmdline())
    ]
