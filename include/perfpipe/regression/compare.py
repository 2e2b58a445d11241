"""Compare a run with its baseline: per class (and in total) over per-second windows, per endpoint as totals.

Class and total rows test the steady-state per-second samples of the two runs with a two-sided
Mann-Whitney U test in its normal approximation, its variance inflated for the serial correlation of
neighbouring seconds (ARMA(1,1), from the lag-1 and lag-2 autocorrelations), Holm-adjusted across the
comparison; their values are the median per-second percentile, the mean req/s and the pooled error rate.
The per-second frame has no endpoint breakdown, so endpoint rows come from the whole-run stats frame and
carry no test (``p_value`` NaN, never significant); so do the custom metrics' whole-run stats (scope
``metric``). Method and measured error rates: docs/regression.md.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from include.perfpipe.custom_metrics import METRIC_COLUMNS, STATS
from include.perfpipe.metrics import ALL, scenario_endpoints
from include.perfpipe.regression.frames import run_frames, steady_seconds

METRICS = ("p50_ms", "p95_ms", "p99_ms", "rps", "error_rate")
METRIC_SCOPE = "metric"  # rows of the run's custom metrics
HIGHER_IS_BETTER = frozenset({"rps"})
COMPARISON_COLUMNS = [
    "scope",
    "name",
    "class_name",
    "metric",
    "baseline",
    "current",
    "change_pct",
    "p_value",
    "significant",
    "direction",
    "test",
    "n_baseline",
    "n_current",
]
MIN_WINDOWS = 5
MAX_CORRELATION = 0.9  # cap on r1 and on phi: a side's inflation is at most 1 + 2 * 0.9 / (1 - 0.9) = 19
MAX_ABSORBED = 0.5  # cap on the share of the variance the segment means absorb (bias correction)
BIAS_ITERATIONS = 10
TEST = "mannwhitneyu_arma"


class Windows(NamedTuple):
    """One metric of a class in a run: per-second samples in time order, the steady segment of each, the run's value."""

    values: np.ndarray
    segment: np.ndarray
    summary: float


def compare_runs(
    baseline: dict, current: dict, alpha: float = 0.05, min_change_pct: float = 5.0, min_change_ms: float = 1.0
) -> pd.DataFrame:
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
    for class_name in _ordered_classes(base_windows, cur_windows):
        scope, name = ("total", ALL) if class_name == ALL else ("class", class_name)
        for metric in METRICS:
            b = base_windows.get(class_name, {}).get(metric)
            c = cur_windows.get(class_name, {}).get(metric)
            rows.append(_tested_row(scope, name, class_name, metric, b, c))
    _judge(rows, alpha, min_change_pct, min_change_ms)
    base_endpoints = scenario_endpoints(base["stats"]).set_index("name")
    cur_endpoints = scenario_endpoints(cur["stats"]).set_index("name")
    for name in sorted(set(base_endpoints.index) | set(cur_endpoints.index)):
        source = cur_endpoints if name in cur_endpoints.index else base_endpoints
        class_name = source.loc[name, "class_name"]
        for metric in METRICS:
            b = _cell(base_endpoints, name, metric)
            c = _cell(cur_endpoints, name, metric)
            rows.append(_row("endpoint", name, class_name, metric, b, c, math.nan, "none", 0, 0))
    rows += _metric_rows(base["metrics"], cur["metrics"])
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _metric_rows(base: pd.DataFrame, cur: pd.DataFrame) -> list[dict]:
    """Custom metrics as whole-run values (scope ``metric``, class = kind, metric = stat), untested like endpoints."""
    stats = [c for c in METRIC_COLUMNS if c not in ("name", "kind", "unit")]
    base, cur = (f.set_index("name").astype({c: float for c in stats}) for f in (base, cur))
    rows = []
    for name in sorted(set(base.index) | set(cur.index)):
        kind = (cur if name in cur.index else base).loc[name, "kind"]
        for stat in STATS[kind]:
            b, c = _cell(base, name, stat), _cell(cur, name, stat)
            rows.append(_row(METRIC_SCOPE, name, kind, stat, b, c, math.nan, "none", 0, 0))
    return rows


def _windows_by_class(seconds: pd.DataFrame) -> dict[str, dict[str, Windows]]:
    """Per class: for each metric, the per-second samples in time order and the run's summary value."""
    seconds = seconds.sort_values("t", kind="stable")
    every_second = np.sort(seconds.loc[seconds["class_name"] == ALL, "t"].unique())
    out = {}
    for class_name, rows in seconds.groupby("class_name", sort=True):
        rows = rows.set_index("t")
        rps = rows["rps"].reindex(every_second, fill_value=0.0).to_numpy(float)  # an idle second is 0 req/s
        served = rows[rows["requests"] > 0]
        out[class_name] = {
            "rps": Windows(rps, _segments(every_second, every_second), float(rps.mean()) if len(rps) else math.nan)
        }
        for metric in ("p50_ms", "p95_ms", "p99_ms"):
            values = served[metric].to_numpy(float)
            finite = np.isfinite(values)
            out[class_name][metric] = Windows(
                values[finite],
                _segments(served.index[finite], every_second),
                float(np.median(values[finite])) if finite.any() else math.nan,
            )
        requests = served["requests"].sum()
        out[class_name]["error_rate"] = Windows(
            (served["errors"] / served["requests"]).to_numpy(float),
            _segments(served.index, every_second),
            float(served["errors"].sum() / requests) if requests else math.nan,
        )
    return out


def _segments(t: np.ndarray | pd.Index, every_second: np.ndarray) -> np.ndarray:
    """Segment number of each second ``t``: a gap in the run's steady seconds (a ramp cut out) starts a new one."""
    starts = every_second[1:][np.diff(every_second) > 1]
    return np.searchsorted(starts, np.asarray(t), side="right")


def _ordered_classes(*windows: dict) -> list[str]:
    classes = set().union(*windows)
    return ([ALL] if ALL in classes else []) + sorted(classes - {ALL})


def _tested_row(scope, name, class_name, metric, base, cur) -> dict:
    if base is None or cur is None:
        b = base.summary if base is not None else math.nan
        c = cur.summary if cur is not None else math.nan
        return _row(scope, name, class_name, metric, b, c, math.nan, "none", 0, 0)
    p_value, test = _mann_whitney_serial(base, cur)
    return _row(
        scope, name, class_name, metric, base.summary, cur.summary, p_value, test, len(base.values), len(cur.values)
    )


def _judge(rows: list[dict], alpha: float, min_change_pct: float, min_change_ms: float) -> None:
    """Holm-adjust the p-values of the tested rows, then mark significant changes and their direction."""
    tested = [r for r in rows if not math.isnan(r["p_value"])]
    for row, adjusted in zip(tested, _holm([r["p_value"] for r in tested]), strict=False):
        row["p_value"] = adjusted
        large = abs(row["change_pct"]) >= min_change_pct and (
            not row["metric"].endswith("_ms") or abs(row["current"] - row["baseline"]) >= min_change_ms
        )
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


def _mann_whitney_serial(base: Windows, cur: Windows) -> tuple[float, str]:
    """Two-sided p of the U test with its z deflated for serial correlation: ``2 * sf(z / sqrt(f))``."""
    if min(len(base.values), len(cur.values)) < MIN_WINDOWS:
        return math.nan, "none"
    if np.ptp(np.concatenate([base.values, cur.values])) == 0:
        return 1.0, TEST  # every window equal: no evidence of a change
    from scipy.stats import norm

    z = _u_z(base.values, cur.values) / math.sqrt(_variance_inflation(base, cur))
    return float(2 * norm.sf(z)), TEST


def _u_z(base: np.ndarray, cur: np.ndarray) -> float:
    """``|z|`` of the U statistic: normal approximation with tie and continuity correction (as scipy's)."""
    from scipy.stats import rankdata

    n1, n2 = len(base), len(cur)
    n = n1 + n2
    ranks = rankdata(np.concatenate([base, cur]))
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    ties = np.unique(ranks, return_counts=True)[1].astype(float)
    variance = n1 * n2 / 12 * ((n + 1) - (ties**3 - ties).sum() / (n * (n - 1)))
    return max(abs(u - n1 * n2 / 2) - 0.5, 0.0) / math.sqrt(variance)


def _variance_inflation(base: Windows, cur: Windows) -> float:
    """Var(U) over its value for independent windows: ``f = (n_cur * f_base + n_base * f_cur) / (n_base + n_cur)``.

    U moves with ``n_cur * sum(F(base_i)) - n_base * sum(F(cur_j))`` (F the common distribution), of variance
    ``n_base * n_cur / 12 * (n_cur * f_base + n_base * f_cur)``, ``f_side`` the inflation of the variance of a
    sum of that side's samples (``_side_inflation``); independent windows give f = 1.
    """
    f_base, f_cur = _side_inflation(base), _side_inflation(cur)
    n_base, n_cur = len(base.values), len(cur.values)
    return (n_cur * f_base + n_base * f_cur) / (n_base + n_cur)


def _side_inflation(windows: Windows) -> float:
    """Var of the sum of one side's samples over n times their variance: ``sum(m_s * f(m_s)) / n`` over segments.

    Lag-1/2 rank autocorrelations are read low because each segment is centred on its own mean, which absorbs
    the share ``a = sum(f(m_s)) / n`` of the variance: ``E[r_hat_k] ~ (r_k - a) / (1 - a)``, so ``r_k = r_hat_k
    + (1 - r_hat_k) * a``, solved with ``f`` by fixed-point iteration (``a`` at most ``MAX_ABSORBED``).
    """
    (r1_hat, r2_hat), lengths = _rank_autocorrelations(windows)
    inflation = np.ones(len(lengths))
    for _ in range(BIAS_ITERATIONS):
        absorbed = min(inflation.sum() / lengths.sum(), MAX_ABSORBED)
        inflation = _arma_inflation(r1_hat + (1 - r1_hat) * absorbed, r2_hat + (1 - r2_hat) * absorbed, lengths)
    return float((lengths * inflation).sum() / lengths.sum())


def _arma_inflation(r1: float, r2: float, lengths: np.ndarray) -> np.ndarray:
    """Per segment of m samples, under ARMA(1,1) (``r_k = r1 * phi**(k - 1)``), the variance inflation of their sum:

    ``f(m) = 1 + 2 * sum_{k<m} (1 - k/m) r_k = 1 + 2 r1 (1 / (1 - phi) - (1 - phi**m) / (m (1 - phi)**2))``.
    ``phi = r2 / r1`` clamped to ``[r1, MAX_CORRELATION]`` (drift plus independent noise has ``phi >= r1``),
    ``phi = r1`` (AR(1)) when r1 is not clearly positive (below ``1 / sqrt(n)``), and f = 1 when ``r1 <= 0``.
    """
    n = lengths.sum()
    r1 = min(r1, MAX_CORRELATION)
    if r1 <= 0:
        return np.ones(len(lengths))
    phi = r1 if r1 < 1 / math.sqrt(n) else min(max(r2 / r1, r1), MAX_CORRELATION)
    return 1 + 2 * r1 * (1 / (1 - phi) - (1 - phi**lengths) / (lengths * (1 - phi) ** 2))


def _rank_autocorrelations(windows: Windows) -> tuple[tuple[float, float], np.ndarray]:
    """Lag-1 and lag-2 autocorrelations of the samples' ranks within steady segments, and the segments' lengths.

    Each segment is centred on its own mean and no pair crosses a gap, so a level step between two holds is not
    read as correlation. Not bias-corrected (``_side_inflation`` does that); a constant sample gives 0.
    """
    from scipy.stats import rankdata

    ranks = rankdata(windows.values)
    _, segment = np.unique(windows.segment, return_inverse=True)
    lengths = np.bincount(segment)
    centred = ranks - (np.bincount(segment, ranks) / lengths)[segment]
    squares = float((centred**2).sum())
    if squares == 0:
        return (0.0, 0.0), lengths  # nothing is correlated
    r1, r2 = (float((centred[k:] * centred[:-k])[segment[k:] == segment[:-k]].sum()) / squares for k in (1, 2))
    return (r1, r2), lengths


def change_pct(base: float, cur: float) -> float:
    """Change from ``base`` to ``cur`` in %; +-inf from a zero base, NaN when either is missing."""
    if math.isnan(base) or math.isnan(cur):
        return math.nan
    if base == 0:
        return 0.0 if cur == 0 else math.copysign(math.inf, cur)
    return (cur - base) / abs(base) * 100.0


def _row(scope, name, class_name, metric, base, cur, p_value, test, n_base, n_cur) -> dict:
    return {
        "scope": scope,
        "name": name,
        "class_name": class_name,
        "metric": metric,
        "baseline": base,
        "current": cur,
        "change_pct": change_pct(base, cur),
        "p_value": p_value,
        "significant": False,
        "direction": "unchanged",
        "test": test,
        "n_baseline": n_base,
        "n_current": n_cur,
    }


def _cell(frame: pd.DataFrame, name: str, metric: str) -> float:
    return float(frame.loc[name, metric]) if name in frame.index else math.nan
