"""Gate decisions: does a comparison fail the nightly run, and what is a release gate's final verdict."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from include.perfpipe.validation.verdict import parse_verdict

_GATE_COLUMNS = ("scope", "name", "metric", "change_pct", "p_value", "direction")


def gate_decision(comparison: pd.DataFrame) -> dict:
    """``{"regressed", "status", "reason"}``: regressed when any row of ``compare_runs`` is a significant regression."""
    missing = [c for c in _GATE_COLUMNS if c not in comparison.columns]
    if missing:
        raise ValueError(f"comparison lacks columns {missing}")
    unknown = set(comparison["direction"]) - {"regression", "improvement", "unchanged"}
    if unknown:
        raise ValueError(f"comparison.direction has unknown values {sorted(unknown)}")
    regressions = comparison[comparison["direction"] == "regression"]
    if regressions.empty:
        tested = int(comparison["p_value"].notna().sum())
        return {
            "regressed": False,
            "status": "unchanged",
            "reason": f"no significant regression ({tested} tested metrics)",
        }
    worst = regressions.assign(size=regressions["change_pct"].abs()).sort_values("size", ascending=False)
    listed = "; ".join(
        f"{r.name if r.scope != 'total' else 'total'} {r.metric} {r.change_pct:+.1f} % (p={r.p_value:.2g})"
        for r in worst.head(5).itertuples()
    )
    more = f"; and {len(worst) - 5} more" if len(worst) > 5 else ""
    return {
        "regressed": True,
        "status": "regression",
        "reason": f"{len(worst)} significant regression(s): {listed}{more}",
    }


def gated_verdict(verdict: str, reason: str, gate: dict | None, fail_on_regression: bool) -> tuple[str, str]:
    """The verdict stored and reported for a run: a passing run the regression gate failed is ``fail`` when the
    run fails on regression (the nightly), so the store never records it as ``pass``."""
    if verdict == "pass" and fail_on_regression and (gate or {}).get("regressed"):
        return "fail", f"regression against the baseline: {gate['reason']}"
    return verdict, reason


def release_verdict(results: Sequence[tuple], planned: Sequence[str]) -> dict:
    """Final verdict of a release gate that runs ``planned`` profiles in order and stops at the first non-pass.

    ``results``: ``(profile, verdict)`` or ``(profile, verdict, reason)`` of the profiles that ran, in
    order. Returns ``{"verdict", "reason", "ran", "skipped"}``; a planned profile that should have run
    but has no result makes the verdict ``error``.
    """
    planned = list(planned)
    if not planned:
        raise ValueError("planned must name at least one profile")
    if len(set(planned)) != len(planned):
        raise ValueError(f"planned names a profile twice: {planned}")
    outcomes = [_checked_result(i, r, planned) for i, r in enumerate(results)]
    ran = [profile for profile, _, _ in outcomes]
    if ran != planned[: len(ran)]:
        raise ValueError(f"results must follow the planned order {planned}, got {ran}")
    for position, (profile, verdict, reason) in enumerate(outcomes):
        if verdict != "pass":
            if position != len(outcomes) - 1:
                raise ValueError(f"results continue after {profile!r} ended the gate with {verdict!r}: {ran}")
            detail = f": {reason}" if reason else ""
            return _verdict(verdict, f"{profile} gave {verdict}{detail}", ran, planned)
    if len(ran) < len(planned):
        missing = planned[len(ran)]
        return _verdict("error", f"{missing} has no verdict although every profile before it passed", ran, planned)
    return _verdict("pass", f"every planned profile passed: {', '.join(ran)}", ran, planned)


def _checked_result(index: int, result: tuple, planned: list[str]) -> tuple[str, str, str | None]:
    if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
        raise ValueError(f"results[{index}] must be (profile, verdict) or (profile, verdict, reason), got {result!r}")
    profile, verdict, reason = (*result, None) if len(result) == 2 else result
    if profile not in planned:
        raise ValueError(f"results[{index}] profile {profile!r} is not planned ({planned})")
    return profile, parse_verdict(verdict, f"results[{index}] verdict").value, reason


def _verdict(verdict: str, reason: str, ran: list[str], planned: list[str]) -> dict:
    return {"verdict": verdict, "reason": reason, "ran": ran, "skipped": planned[len(ran) :]}
