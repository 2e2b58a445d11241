"""Compare a run with its baseline: per class (and in total) over per-second windows, per endpoint as totals.

Class and total rows test the steady-state per-second samples of the two runs with a two-sided
Mann-Whitney U test (scipy), Holm-adjusted across the comparison; their values are the median
per-second percentile, the mean req/s and the pooled error rate. The per-second frame has no endpoint
breakdown, so endpoint rows come from the whole-run stats frame and carry no test (``p_value`` NaN,
never significant). Method and measured error rates: docs/regression.md.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from include.perfpipe.metrics import ALL
from include.perfpipe.regression.frames import run_frames, steady_seconds

METRICS = ("p50_ms", "p95_ms", "p99_ms", "rps", "error_rate")
HIGHER_IS_BETTER = frozenset({"rps"})
COMPARISON_COLUMNS = [
    "scope", "name", "klass", "metric", "baseline", "current", "change_pct", "p_value", "significant",
    "direction", "test", "n_baseline", "n_current",
]
MIN_WINDOWS = 5


def compare_runs(baseline: dict, current: dict, alpha: float = 0.05, min_change_pct: float = 5.0,
                 min_change_ms: float = 1.0) -> pd.DataFrame:
    """One row per (scope, name, metric): the change from ``baseline`` to ``current`` and its significance.

    ``baseline``/``current``: ``{"stats", "timeseries", "stages"}`` (or ``LoadResult`` dicts).
    A change is ``significant`` when its Holm-adjusted p-value is below ``alpha`` and it moves by at
    least ``min_change_pct`` percent and, for latency, ``min_change_ms`` milliseconds (+10 % of a 3 ms p95 is
    noise to a user); only significant changes are a ``regression`` or ``improvement``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    if not isinstance(min_change_pct, (int, float)) or min_change_pct < 0:
        raise ValueError(f"min_change_pct must be a number >= 0, got {min_change_pct!r}")
    if not isinstance(min_change_ms, (int, float)) or min_change_ms < 0:
        raise ValueError(f"min_change_ms must be a number >= 0, got {min_change_ms!r}")
    base, cur = run_frames(baseline, "baseline"), run_frames(current, "current")
    base_windows = _windows_by_class(steady_seconds(base["timeseries"], base["stages"], "baseline"))
    cur_windows = _windows_by_class(steady_seconds(cur["timeseries"], cur["stages"], "current"))
    rows = []
    for klass in _ordered_classes(base_windows, cur_windows):
        scope, name = ("total", ALL) if klass == ALL else ("class", klass)
        for metric in METRICS:
            b = base_windows.get(klass, {}).get(metric)
            c = cur_windows.get(klass, {}).get(metric)
            rows.append(_tested_row(scope, name, klass, metric, b, c))
    _judge(rows, alpha, min_change_pct, min_change_ms)
    base_endpoints = base["stats"][base["stats"]["scope"] == "endpoint"].set_index("name")
    cur_endpoints = cur["stats"][cur["stats"]["scope"] == "endpoint"].set_index("name")
    for name in sorted(set(base_endpoints.index) | set(cur_endpoints.index)):
        source = cur_endpoints if name in cur_endpoints.index else base_endpoints
        klass = source.loc[name, "klass"]
        for metric in METRICS:
            b = _cell(base_endpoints, name, metric)
            c = _cell(cur_endpoints, name, metric)
            rows.append(_row("endpoint", name, klass, metric, b, c, math.nan, "none", 0, 0))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _windows_by_class(seconds: pd.DataFrame) -> dict[str, dict[str, tuple[np.ndarray, float]]]:
    """Per class: for each metric, the per-second samples and the run's summary value."""
    every_second = np.sort(seconds.loc[seconds["klass"] == ALL, "t"].unique())
    out = {}
    for klass, rows in seconds.groupby("klass", sort=True):
        rows = rows.set_index("t")
        rps = rows["rps"].reindex(every_second, fill_value=0.0).to_numpy(float)  # an idle second is 0 req/s
        served = rows[rows["requests"] > 0]
        out[klass] = {"rps": (rps, float(rps.mean()) if len(rps) else math.nan)}
        for metric in ("p50_ms", "p95_ms", "p99_ms"):
            samples = _finite(served[metric])
            out[klass][metric] = (samples, float(np.median(samples)) if len(samples) else math.nan)
        requests = served["requests"].sum()
        out[klass]["error_rate"] = (
            (served["errors"] / served["requests"]).to_numpy(float),
            float(served["errors"].sum() / requests) if requests else math.nan,
        )
    return out


def _finite(values: pd.Series) -> np.ndarray:
    array = values.to_numpy(float)
    return array[np.isfinite(array)]


def _ordered_classes(*windows: dict) -> list[str]:
    classes = set().union(*windows)
    return ([ALL] if ALL in classes else []) + sorted(classes - {ALL})


def _tested_row(scope, name, klass, metric, base, cur) -> dict:
    if base is None or cur is None:
        b = base[1] if base is not None else math.nan
        c = cur[1] if cur is not None else math.nan
        return _row(scope, name, klass, metric, b, c, math.nan, "none", 0, 0)
    (b_samples, b), (c_samples, c) = base, cur
    p_value, test = _mann_whitney(b_samples, c_samples)
    return _row(scope, name, klass, metric, b, c, p_value, test, len(b_samples), len(c_samples))


def _judge(rows: list[dict], alpha: float, min_change_pct: float, min_change_ms: float) -> None:
    """Holm-adjust the p-values of the tested rows, then mark significant changes and their direction."""
    tested = [r for r in rows if not math.isnan(r["p_value"])]
    for row, adjusted in zip(tested, _holm([r["p_value"] for r in tested])):
        row["p_value"] = adjusted
        large = abs(row["change_pct"]) >= min_change_pct and (
            not row["metric"].endswith("_ms") or abs(row["current"] - row["baseline"]) >= min_change_ms)
        row["significant"] = bool(adjusted < alpha and large)
        if row["significant"]:
            worse = row["change_pct"] < 0 if row["metric"] in HIGHER_IS_BETTER else row["change_pct"] > 0
            row["direction"] = "regression" if worse else "improvement"


def _holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error control across the comparison)."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def _mann_whitney(base: np.ndarray, cur: np.ndarray) -> tuple[float, str]:
    if min(len(base), len(cur)) < MIN_WINDOWS:
        return math.nan, "none"
    if np.ptp(np.concatenate([base, cur])) == 0:
        return 1.0, "mannwhitneyu"  # every window equal: no evidence of a change
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(base, cur, alternative="two-sided").pvalue), "mannwhitneyu"


def change_pct(base: float, cur: float) -> float:
    """Change from ``base`` to ``cur`` in %; +-inf from a zero base, NaN when either is missing."""
    if math.isnan(base) or math.isnan(cur):
        return math.nan
    if base == 0:
        return 0.0 if cur == 0 else math.copysign(math.inf, cur)
    return (cur - base) / abs(base) * 100.0


def _row(scope, name, klass, metric, base, cur, p_value, test, n_base, n_cur) -> dict:
    return {
        "scope": scope, "name": name, "klass": klass, "metric": metric, "baseline": base, "current": cur,
        "change_pct": change_pct(base, cur), "p_value": p_value, "significant": False,
        "direction": "unchanged", "test": test, "n_baseline": n_base, "n_current": n_cur,
    }


def _cell(frame: pd.DataFrame, name: str, metric: str) -> float:
    return float(frame.loc[name, metric]) if name in frame.index else math.nan
