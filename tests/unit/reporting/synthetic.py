"""Synthetic run bundles recorded into a real MetricsRecorder, with hostile text where the target or DB speaks."""

from __future__ import annotations

import random

from include.perfpipe.metrics import MetricsRecorder

HOSTILE = "<script>alert('pwned')</script>"
ENDPOINTS = [("health", "health", 0.004), ("list_items", "api", 0.030), ("get_item", "api", 0.020)]


def record_run(seconds: int = 30, seed: int = 7, slow: float = 1.0) -> MetricsRecorder:
    rng = random.Random(seed)
    rec = MetricsRecorder()
    for t in range(seconds):
        vus = min(10, 1 + t)
        rec.set_active_vus(t, vus)
        for _ in range(vus * 3):
            name, class_name, base = rng.choice(ENDPOINTS)
            failed = rng.random() < 0.02
            status = HOSTILE if failed and name == "get_item" else (500 if failed else 200)
            rec.record(name, class_name, base * slow * rng.uniform(0.5, 2.0), not failed, status, t + rng.random())
    return rec


def load_result(seconds: int = 30, seed: int = 7, slow: float = 1.0) -> dict:
    return {
        "spec": {"profile": "smoke", "target": "http://127.0.0.1:8000"},
        "started_at": "2026-11-27T11:00:00+00:00",
        "ended_at": f"2026-11-27T11:00:{seconds:02d}+00:00",
        "duration_s": float(seconds),
        "metrics": record_run(seconds, seed, slow).to_dict(),
        "stages": [{"start_s": 0, "end_s": 10, "kind": "ramp"}, {"start_s": 10, "end_s": seconds, "kind": "hold"}],
        "health": {"loop_lag_p99_ms": 1.2, "cpu_percent": 30.0, "dropped": 0, "saturated": False, "reasons": []},
        "aborted": False,
        "abort_reason": None,
    }


def benchmark_result() -> dict:
    rec = MetricsRecorder()
    rng = random.Random(3)
    for i in range(200):
        rec.record("items_by_category", "db", rng.uniform(0.001, 0.004), True, "ok", i / 20)
    return {
        "spec": {},
        "started_at": None,
        "ended_at": None,
        "duration_s": 10.0,
        "metrics": rec.to_dict(),
        "stages": [],
        "health": {},
        "aborted": False,
        "abort_reason": None,
    }


def validation_result(fail: bool = True) -> dict:
    return {
        "verdict": "fail" if fail else "pass",
        "reason": f"p95 of api above threshold {HOSTILE}" if fail else "all thresholds met",
        "results": [
            {
                "suite": "api",
                "window": "whole",
                "metric": "p95_ms",
                "class_name": "api",
                "operator": "<=",
                "threshold": 20.0 if fail else 500.0,
                "observed": 45.5,
                "success": not fail,
            },
            {
                "suite": "api",
                "window": "whole",
                "metric": "error_rate",
                "class_name": "api",
                "operator": "<=",
                "threshold": 0.05,
                "observed": 0.02,
                "success": True,
            },
            {
                "suite": "health",
                "window": "whole",
                "metric": "p99_ms",
                "class_name": "health",
                "operator": "<=",
                "threshold": 100.0,
                "observed": 7.9,
                "success": True,
            },
        ],
        "data_docs": "gx/data_docs/local_site/index.html",
        "notes": ["suite not applied: capacity (applies to profiles load, stress)"],
    }


def database_result() -> dict:
    return {
        "findings": [
            {
                "check": "missing_index",
                "severity": "critical",
                "object": f"public.items{HOSTILE}",
                "evidence": {"seq_scans": 1200, "rows": 100000},
                "recommendation": "Add an index on items(category).",
                "sql": f"CREATE INDEX CONCURRENTLY ON items (category); -- {HOSTILE}",
            },
            {
                "check": "bloat",
                "severity": "warning",
                "object": "public.orders",
                "evidence": "dead tuples 40%",
                "recommendation": "VACUUM the table.",
                "sql": "VACUUM (ANALYZE) orders;",
            },
            {
                "check": "unused_index",
                "severity": "info",
                "object": "public.idx_old",
                "evidence": {"idx_scan": 0},
                "recommendation": "Consider dropping it.",
                "sql": None,
            },
        ],
        "maintenance": [
            {"table": "public.orders", "action": "analyze", "status": "ok", "seconds": 0.12, "message": ""}
        ],
        "statements_delta": [
            {"query": f"SELECT * FROM items WHERE name = '{HOSTILE}'", "calls": 50, "mean_exec_time_ms": 3.2}
        ],
        "table_stats": [{"table": "public.items", "seq_scan": 1200, "idx_scan": 5}],
        "benchmark": benchmark_result(),
    }


def baseline_row(**fields) -> dict:
    """A stored run as the results history gives it (a baseline or a history row): 20 req/s, no errors."""
    return {
        "dag_id": "perf_load",
        "run_id": "base-run",
        "verdict": "pass",
        "errors": 0,
        "error_rate": 0.0,
        "rps": 20.0,
        "p50_ms": 10.0,
        "p95_ms": 40.0,
        "p99_ms": 50.0,
        **fields,
    }


def bundle(run_id: str = "manual__2026-11-27T11:00:00+00:00", fail: bool = True) -> dict:
    return {
        "run": {
            "dag_id": "perf_load",
            "run_id": run_id,
            "profile": "smoke",
            "target": "demo",
            "version": "abc123",
            "started_at": "2026-11-27T11:00:00+00:00",
            "ended_at": "2026-11-27T11:00:30+00:00",
        },
        "loadtest": load_result(),
        "validation": validation_result(fail),
        "database": database_result(),
        "regression": None,
    }
