"""Thresholds as GX Core Expectation Suites, validated by one Checkpoint with Data Docs.

A GX file context lives under ``run_dir / "gx"``. The window frame is one pandas dataframe asset;
each (suite, window) becomes an Expectation Suite whose Expectations select their rows with a
row condition on ``window``, ``class_name`` and ``scope``:
- one row per class (whole run, steady state): ``ExpectColumnMaxToBeBetween`` for upper limits,
  ``ExpectColumnMinToBeBetween`` for lower ones;
- several rows per class (per-endpoint/per-query limits, rolling windows, seconds):
  ``ExpectColumnValuesToBeBetween``, whose Data Docs list the offending rows by ``name`` and ``start_s``.
Custom-metric thresholds (suite ``metrics``) check a second asset, the run's ``metrics_frame``, in a
second Checkpoint of the same context, one row per metric selected by ``name``.
Success and observed values come from GX's own results. ``great_expectations`` is imported here,
inside functions only (it takes seconds to import).
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

from include.perfpipe.validation.thresholds import SECOND, WHOLE, Threshold, Thresholds
from include.perfpipe.vocabulary import UPPER_BOUNDS

RESULT_COLUMNS = ["suite", "window", "metric", "class_name", "operator", "threshold", "observed", "success"]
DATASOURCE, ASSET, BATCH, CHECKPOINT = "perfpipe", "windows", "run", "perfpipe"
METRIC_ASSET, METRIC_SCOPE = "custom_metrics", "metric"


@dataclass(frozen=True)
class Check:
    """One (threshold, window) pair with data to check."""

    rule: Threshold
    window: str
    scopes: tuple[str, ...]

    @property
    def on_metrics(self) -> bool:
        """A custom metric's threshold: checked on the metrics frame, its row chosen by name."""
        return self.scopes == (METRIC_SCOPE,)

    @property
    def upper(self) -> bool:
        return self.rule.operator in UPPER_BOUNDS

    @property
    def every_row(self) -> bool:
        """Several rows per class (queries, seconds, rolling windows): check each, so GX lists the offenders."""
        return "endpoint" in self.scopes or self.window == SECOND or self.window.startswith("rolling_")


def plan_metric_checks(metrics: pd.DataFrame, rules: list[Threshold]) -> tuple[list[Check], list[str]]:
    """The custom-metric checks that have data in the ``metrics_frame``, and a note for each that has none."""
    checks, notes = [], []
    by_name = metrics.set_index("name") if len(metrics) else metrics
    for rule in rules:
        if rule.class_name in by_name.index and pd.notna(by_name.loc[rule.class_name, rule.metric]):
            checks.append(Check(rule, WHOLE, (METRIC_SCOPE,)))
        else:
            notes.append(f"not checked: {rule.suite} {rule.class_name} {rule.metric} (no samples)")
    return checks, notes


def plan_checks(frame: pd.DataFrame, thresholds: Thresholds) -> tuple[list[Check], list[str]]:
    """The checks that have data in ``frame``, and a note for each one that has none."""
    checks, notes = [], []
    measured = set(frame["class_name"])
    absent = sorted({rule.class_name for rule in thresholds.rules} - measured)
    if absent:
        notes.append(f"not checked: classes this run did not measure: {', '.join(absent)}")
    for rule in thresholds.rules:
        if rule.class_name not in measured:
            continue
        for window in rule.windows:
            scopes = ("class", "total")
            if rule.per_endpoint and window == WHOLE:
                scopes = ("class", "total", "endpoint")
            rows = frame[
                (frame["window"] == window) & (frame["class_name"] == rule.class_name) & frame["scope"].isin(scopes)
            ]
            if rows[rule.metric].notna().any():
                checks.append(Check(rule, window, scopes))
            else:
                notes.append(f"not checked: {rule.suite} {rule.class_name} {rule.metric} over {window} (no data)")
    return checks, notes


def run_checkpoint(
    frame: pd.DataFrame, checks: list[Check], run_dir: Path, metrics: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, str | None, list[str]]:
    """Validate ``frame`` (and ``metrics``, for the custom-metric checks) against ``checks`` in a fresh
    GX file context.

    Returns the results, the Data Docs index path relative to ``run_dir`` (it travels with the run folder to
    shared storage), and the checks GX could not evaluate (with why).
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    shutil.rmtree(run_dir / "gx", ignore_errors=True)  # a re-validation replaces the previous one
    context = gx.get_context(mode="file", project_root_dir=str(run_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas(DATASOURCE)
    results, rows = [], []
    for asset, data, part in (
        (ASSET, frame, [c for c in checks if not c.on_metrics]),
        (METRIC_ASSET, metrics, [c for c in checks if c.on_metrics]),
    ):
        if not part:
            continue
        batch = source.add_dataframe_asset(asset).add_batch_definition_whole_dataframe(BATCH)
        suites: dict[str, object] = {}
        for check in part:
            name = f"{check.rule.suite}.{check.window}"
            if name not in suites:
                suites[name] = context.suites.add(gx.ExpectationSuite(name=name))
            suites[name].add_expectation(_expectation(gx, check))
        definitions = [
            context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
            for name, suite in suites.items()
        ]
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=CHECKPOINT if asset == ASSET else f"{CHECKPOINT}_{asset}",
                validation_definitions=definitions,
                actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
                result_format={
                    "result_format": "COMPLETE",
                    "unexpected_index_column_names": ["name", "start_s"] if asset == ASSET else ["name"],
                },
            )
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": data})
        found = [r for run in outcome.run_results.values() for r in run.results]
        results += found
        rows += [_result_row(data, r) for r in found]
    failures = [f"{r.expectation_config.meta['notes']}: {_exception(r)}" for r in results if _exception(r)]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS), _docs_index(context, run_dir), failures


def _expectation(gx, check: Check):
    from great_expectations.expectations.row_conditions import Column

    rule = check.rule
    condition = (
        (Column("window") == check.window)
        & (Column("class_name") == rule.class_name)
        & Column("scope").is_in(list(check.scopes))
    )
    if check.on_metrics:
        condition = Column("name") == rule.class_name
    bound = (
        {"max_value": rule.limit, "strict_max": rule.operator == "<"}
        if check.upper
        else {"min_value": rule.limit, "strict_min": rule.operator == ">"}
    )
    meta = {
        "perfpipe": {
            "suite": rule.suite,
            "window": check.window,
            "metric": rule.metric,
            "class_name": rule.class_name,
            "operator": rule.operator,
            "threshold": rule.limit,
            "scopes": list(check.scopes),
        },
        "notes": f"{rule.class_name} {rule.metric} {rule.operator} {rule.limit:g} over {check.window}",
    }
    if check.every_row:
        kind = gx.expectations.ExpectColumnValuesToBeBetween
    else:
        kind = gx.expectations.ExpectColumnMaxToBeBetween if check.upper else gx.expectations.ExpectColumnMinToBeBetween
    return kind(column=rule.metric, row_condition=condition, meta=meta, **bound)


def _result_row(frame: pd.DataFrame, result) -> dict:
    meta = result.expectation_config.meta["perfpipe"]
    upper = meta["operator"] in UPPER_BOUNDS
    observed = result.result.get("observed_value")
    if observed is None:  # ExpectColumnValuesToBeBetween reports the offending values, not one figure
        offending = result.result.get("unexpected_list") or []
        if offending:
            observed = max(offending) if upper else min(offending)
        else:  # all rows met the limit: show the worst of them
            rows = frame[
                (frame["window"] == meta["window"])
                & (frame["class_name"] == meta["class_name"])
                & frame["scope"].isin(meta["scopes"])
            ][meta["metric"]]
            observed = rows.max() if upper else rows.min()
    return {
        "suite": meta["suite"],
        "window": meta["window"],
        "metric": meta["metric"],
        "class_name": meta["class_name"],
        "operator": meta["operator"],
        "threshold": float(meta["threshold"]),
        "observed": _number(observed),
        "success": bool(result.success),
    }


def _exception(result) -> str | None:
    """GX's exception message when it could not evaluate the expectation, else ``None``."""
    info = result.exception_info or {}
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return entry.get("exception_message") or "unknown GX error"
    return None


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _docs_index(context, run_dir: Path) -> str | None:
    for site in context.get_docs_sites_urls():
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            path = Path(unquote(urlparse(url).path))
            if path.is_file():
                return path.resolve().relative_to(run_dir.resolve()).as_posix()
    return None
