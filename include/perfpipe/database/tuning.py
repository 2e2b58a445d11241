"""The closed tuning loop: apply the planner-verified indexes CONCURRENTLY, re-run the same load, and measure
what changed per query (pg_stat_statements windows) and per endpoint and class (HTTP latency).

Opt-in and allow-listed like every schema change (``apply_recommendations``); Airflow-free: the caller
passes the re-run as a function returning a ``LoadResult`` dict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from .budget import Budget
from .maintenance import CREATE_INDEX_CHECKS, apply_recommendations
from .statements import snapshot_statements, statements_delta

NOISE_PCT = 20.0  # an endpoint's p95 within 20 % (or 1 ms) of the before-run is "same" (one run each side)
NOISE_MS = 1.0
_DIRECTION = {"regression": "worse", "improvement": "better"}


def verified_index_findings(findings: Iterable[dict]) -> list[dict]:
    """The index findings the planner verified (``index_advice``, ``fk_without_index`` with status verified)."""
    return [
        f
        for f in findings
        if f.get("check") in CREATE_INDEX_CHECKS and (f.get("evidence") or {}).get("status") == "verified"
    ]


def apply_verified_indexes(
    dsn: str, findings: Iterable[dict], allowlist: Iterable[str], apply: bool, budget: Budget | None = None
) -> list[dict]:
    """``apply_recommendations`` restricted to the verified index findings."""
    return apply_recommendations(
        dsn, verified_index_findings(findings), allowlist=allowlist, apply=apply, budget=budget
    )


def rerun_with_statements(dsn: str, rerun: Callable[[], dict]) -> dict:
    """``{"load": rerun(), "statements_window": ...}``: the re-run between two pg_stat_statements snapshots."""
    before = snapshot_statements(dsn)
    load = rerun()
    return {"load": load, "statements_window": statements_delta(before, snapshot_statements(dsn), top=None)}


def change(before: float | None, after: float | None) -> dict:
    """``{before, after, ratio, delta_pct, verdict}``; verdict better/worse beyond the noise band, else same."""
    if before is None or after is None:
        return {"before": before, "after": after, "ratio": None, "delta_pct": None, "verdict": "unknown"}
    ratio = round(before / after, 2) if after > 0 else None
    delta_pct = round(100.0 * (after - before) / before, 1) if before > 0 else None
    band = max(NOISE_MS, before * NOISE_PCT / 100.0)
    verdict = "better" if after < before - band else "worse" if after > before + band else "same"
    return {"before": before, "after": after, "ratio": ratio, "delta_pct": delta_pct, "verdict": verdict}


def _latency_rows(load: dict) -> dict[tuple[str, str], dict]:
    from include.perfpipe.loadtest.result import LoadResult

    frame = LoadResult.from_dict(load).stats_frame()
    return {(r["scope"], r["name"]): r for r in frame.to_dict("records") if r["scope"] in ("endpoint", "class")}


def latency_changes(before_load: dict, after_load: dict) -> list[dict]:
    """Per endpoint and per class: p95 (and p50, p99, count, errors) before and after. A class's verdict is the
    regression comparison's (per-second p95 windows, serial-correlation-corrected U test: ``compare_runs``);
    an endpoint's is the ``NOISE_PCT`` band, its windows being too few to test."""
    from include.perfpipe.regression import compare_runs

    compared = compare_runs(before_load, after_load)
    tested = {
        r["name"]: (
            _DIRECTION.get(r["direction"], "same") if r["significant"] else "same",
            round(float(r["p_value"]), 4) if math.isfinite(r["p_value"]) else None,
        )
        for r in compared[(compared["scope"] == "class") & (compared["metric"] == "p95_ms")].to_dict("records")
    }
    before, after = _latency_rows(before_load), _latency_rows(after_load)
    rows = []
    for key in sorted(before.keys() & after.keys()):
        b, a = before[key], after[key]
        p95 = change(b["p95_ms"], a["p95_ms"])
        if key[0] == "class" and key[1] in tested:
            p95["verdict"], p95["p_value"] = tested[key[1]]
        rows.append(
            {
                "scope": key[0],
                "name": key[1],
                "class_name": b["class_name"],
                "p50_ms_before": b["p50_ms"],
                "p50_ms_after": a["p50_ms"],
                "p99_ms_before": b["p99_ms"],
                "p99_ms_after": a["p99_ms"],
                "count_before": int(b["count"]),
                "count_after": int(a["count"]),
                "errors_before": int(b["errors"]),
                "errors_after": int(a["errors"]),
                "p95": p95,
            }
        )
    return rows


def query_changes(before_window: list[dict], after_window: list[dict], applied: list[dict]) -> list[dict]:
    """Per query seen in both windows (by queryid): mean time before and after; the indexes serving it."""
    after = {r["queryid"]: r for r in after_window}
    served: dict = {}
    for f in applied:
        for q in f["evidence"].get("queries") or [{"queryid": f["evidence"].get("queryid")}]:
            served.setdefault(q.get("queryid"), []).append(f["evidence"]["index"]["name"])
    rows = []
    for b in sorted(before_window, key=lambda r: r["total_ms"], reverse=True):
        a = after.get(b["queryid"])
        if a is None:
            continue
        rows.append(
            {
                "queryid": b["queryid"],
                "query": b["query"],
                "indexes": served.get(b["queryid"], []),
                "calls_before": b["calls"],
                "calls_after": a["calls"],
                "mean_ms": change(b["mean_ms"], a["mean_ms"]),
            }
        )
    return rows


def tuning_outcome(findings: list[dict], applied_rows: list[dict], before: dict, after: dict | None) -> dict:
    """The ``tuning`` block of the DB stage: what was applied and, after a re-run, the measured deltas.

    ``before``/``after``: ``{"load": LoadResult dict, "statements_window": statements_delta rows}``.
    """
    by_object = {f["object"]: f for f in verified_index_findings(findings)}
    applied = [by_object[r["object"]] for r in applied_rows if r["status"] == "applied" and r["object"] in by_object]
    outcome = {
        "applied": applied_rows,
        "rerun": after is not None,
        "queries": [],
        "latency": [],
        "worse": [],
        "headline": None,
    }
    if after is None:
        return outcome
    outcome["queries"] = query_changes(before["statements_window"], after["statements_window"], applied)
    outcome["latency"] = latency_changes(before["load"], after["load"])
    outcome["worse"] = [
        r["name"] for r in outcome["latency"] if r["scope"] == "class" and r["p95"]["verdict"] == "worse"
    ]
    if applied:
        outcome["headline"] = _headline([f["evidence"]["index"]["name"] for f in applied], outcome["latency"])
    return outcome


def _headline(indexes: list[str], latency: list[dict]) -> str:
    """The endpoint the indexes saved the most time on (p95 ms saved times its requests after), among those
    better beyond the noise band. Not the largest ratio: a login made once a VU has a p95 of a few samples,
    and a 6 s re-run once gave login 3.41x against search's real cut (CI, 2026-12-07)."""
    names = ", ".join(indexes)
    improved = [r for r in latency if r["scope"] == "endpoint" and r["p95"]["verdict"] == "better"]
    if not improved:
        return f"index {names}: no endpoint's p95 changed beyond the noise band"
    best = max(improved, key=lambda r: r["count_after"] * (r["p95"]["before"] - r["p95"]["after"]))
    p95 = best["p95"]
    return (
        f"index {names} cut {best['name']} p95 from {p95['before']:.1f} ms to {p95['after']:.1f} ms ({p95['ratio']}x)"
    )


def run_tuning_loop(
    dsn: str, findings: list[dict], before: dict, rerun: Callable[[], dict], allowlist: Iterable[str], apply: bool
) -> dict:
    """Apply the verified, allow-listed indexes (only with ``apply``) and, if one was created, re-run the load
    between statement snapshots; the ``tuning_outcome``. ``before`` is the first run's ``{"load",
    "statements_window"}``."""
    applied = apply_verified_indexes(dsn, findings, allowlist, apply)
    if not any(r["status"] == "applied" for r in applied):
        return tuning_outcome(findings, applied, before, None)
    return tuning_outcome(findings, applied, before, rerun_with_statements(dsn, rerun))


def tuning_view(tuning: dict | None) -> dict | None:
    """The ``tuning`` block as flat rows for the report: headline, error, and tables of latency, queries, applied."""
    if not tuning:
        return None
    latency = [
        {
            "scope": r["scope"],
            "name": r["name"],
            "p95_before_ms": r["p95"]["before"],
            "p95_after_ms": r["p95"]["after"],
            "ratio": r["p95"]["ratio"],
            "verdict": r["p95"]["verdict"],
            "requests": f"{r['count_before']} -> {r['count_after']}",
        }
        for r in tuning.get("latency") or []
    ]
    queries = [
        {
            "queryid": q["queryid"],
            "query": q["query"],
            "indexes": ", ".join(q["indexes"]) or None,
            "mean_before_ms": q["mean_ms"]["before"],
            "mean_after_ms": q["mean_ms"]["after"],
            "ratio": q["mean_ms"]["ratio"],
            "calls": f"{q['calls_before']} -> {q['calls_after']}",
        }
        for q in tuning.get("queries") or []
    ]
    applied = [
        {k: r.get(k) for k in ("object", "status", "sql", "seconds", "message")} for r in tuning.get("applied") or []
    ]
    return {
        "headline": tuning.get("headline"),
        "error": tuning.get("error"),
        "worse": tuning.get("worse") or [],
        "rerun": tuning.get("rerun", False),
        "latency": latency,
        "queries": queries,
        "applied": applied,
    }
