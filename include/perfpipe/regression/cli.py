"""Regression subcommands of ``python -m include.perfpipe``.

``compare``     two saved runs (folders or LoadResult JSON files); exit 1 on a significant regression.
``regression``  a stored run against its baseline, with change points over the history (results store).
``baseline``    show, or with ``--mark`` set, the baseline run of a target and profile (results store).
Exit codes: 0 no regression, 1 significant regression, 3 bad input or unreachable store.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from include.perfpipe.dsn_option import add_dsn_option
from include.perfpipe.regression.analysis import HISTORY_RUNS
from include.perfpipe.vocabulary import RESULTS_DB_ENV

REGRESSED_EXIT = 1
BAD_INPUT_EXIT = 3


def register(subparsers) -> None:
    compare = subparsers.add_parser(
        "compare",
        help="compare a run with its baseline (Mann-Whitney U over per-second windows)",
        description="Compare two saved runs (a folder with summary.json and timeseries.csv, or a LoadResult "
        "JSON file) per class and endpoint on p50, p95, p99, req/s and error rate. "
        "Exit codes: 0 no significant regression, 1 significant regression, 3 bad input.",
    )
    compare.add_argument("--baseline", required=True, help="baseline run folder or LoadResult JSON file")
    compare.add_argument("--current", required=True, help="current run folder or LoadResult JSON file")
    _add_thresholds(compare)
    compare.add_argument("--out", help="write the comparison rows and gate decision here as JSON")
    compare.set_defaults(func=run_compare)

    regression = subparsers.add_parser(
        "regression",
        help="check a stored run against its baseline and the history (results store)",
        description="Judge a stored run (default: the latest of the target and profile) against the run-to-run "
        "noise of the comparable runs that started before it, as the publish task did, compare it with its "
        "baseline (the marked one, else the last passing run the gate did not fail) and find change points. "
        "Exit codes: 0 no significant regression, 1 significant regression, 3 bad input or store.",
    )
    _add_store(regression)
    regression.add_argument("--run", nargs=2, metavar=("DAG_ID", "RUN_ID"), help="the run (default: latest)")
    regression.add_argument(
        "--history", type=int, default=HISTORY_RUNS, help=f"runs searched for change points (default {HISTORY_RUNS})"
    )
    _add_thresholds(regression)
    regression.add_argument("--out", help="write the regression section (docs/regression.md) here as JSON")
    regression.set_defaults(func=run_regression)

    baseline = subparsers.add_parser(
        "baseline",
        help="show or mark the baseline run of a target and profile (results store)",
        description="Print the baseline of a target and profile: the marked run, else the most recent passing "
        "run. --mark makes the given run the baseline first (replacing any earlier mark).",
    )
    _add_store(baseline)
    baseline.add_argument("--mark", nargs=2, metavar=("DAG_ID", "RUN_ID"), help="mark this run as the baseline")
    baseline.set_defaults(func=run_baseline)


def _add_thresholds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    parser.add_argument(
        "--min-change-pct", type=float, default=5.0, help="smallest change in %% that counts (default 5)"
    )
    parser.add_argument(
        "--min-change-ms", type=float, default=1.0, help="smallest latency change in ms that counts (default 1)"
    )


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, help="the target the runs measured")
    parser.add_argument("--profile", required=True, help="the load profile (smoke, load, ...)")
    add_dsn_option(parser, "--results-db", f"results store DSN (default ${RESULTS_DB_ENV})", env=RESULTS_DB_ENV)


def run_compare(args: argparse.Namespace) -> int:
    from include.perfpipe.regression import compare_runs
    from include.perfpipe.regression.rundir import read_run

    try:
        comparison = compare_runs(
            read_run(args.baseline, "baseline"),
            read_run(args.current, "current"),
            alpha=args.alpha,
            min_change_pct=args.min_change_pct,
            min_change_ms=args.min_change_ms,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT
    from include.perfpipe.regression import gate_decision
    from include.perfpipe.regression.section import comparison_records

    decision = gate_decision(comparison)
    return _report(comparison, decision, args.out, {"gate": decision, "comparison": comparison_records(comparison)})


def run_regression(args: argparse.Namespace) -> int:
    import pandas as pd
    import psycopg

    from include.perfpipe.regression.analysis import analyse_run
    from include.perfpipe.regression.baseline import find_baseline

    try:
        store = _store(args)
        dag_id, run_id = args.run or _latest_run(store, args.target, args.profile)
        run, current = store.run_record(dag_id, run_id), store.run_frames(dag_id, run_id)
        if run is None or current is None:
            raise ValueError(f"run {dag_id}/{run_id} has no stored load test")
        base = find_baseline(store, run, run["shape"])["baseline"]  # among the runs that started before it
        section = analyse_run(
            store,
            run,
            current,
            verdict=run["verdict"],
            baseline=base,
            shape=run["shape"],
            history_runs=args.history,
            alpha=args.alpha,
            min_change_pct=args.min_change_pct,
            min_change_ms=args.min_change_ms,
        )
    except (ValueError, psycopg.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT
    print(f"run {dag_id}/{run_id}; baseline " + (f"{base['dag_id']}/{base['run_id']}" if base else "none"))
    for point in section["change_points"]:
        print(
            f"change point: {point['metric']} {point['class_name']} at {point['run_id']} "
            f"({point['before']:.4g} -> {point['after']:.4g}, {point['direction']})"
        )
    if section.get("noise"):
        print("noise: " + section["noise"]["headline"])
    if not section["baseline_found"]:
        gate = section["gate"]
        print(("REGRESSION: " if gate["regressed"] else "ok: ") + gate["reason"])
        _write(args.out, section)
        return REGRESSED_EXIT if gate["regressed"] else 0
    return _report(pd.DataFrame(section["comparison"]), section["gate"], args.out, section)


def _latest_run(store, target: str, profile: str) -> tuple[str, str]:
    latest = store.history(target, profile, limit=1)
    if latest.empty:
        raise ValueError(f"no stored runs for target={target!r} profile={profile!r}")
    return tuple(latest.iloc[-1][["dag_id", "run_id"]])


def run_baseline(args: argparse.Namespace) -> int:
    import psycopg

    try:
        store = _store(args)
        if args.mark:
            store.mark_baseline(*args.mark)
        base = store.baseline(args.target, args.profile)
    except (ValueError, psycopg.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT
    if base is None:
        print(f"no baseline for target={args.target!r} profile={args.profile!r} (no marked or passing run)")
        return 0
    how = "marked" if base["is_baseline"] else "last passing run"
    print(
        f"baseline ({how}): {base['dag_id']}/{base['run_id']} started {base['started_at']} "
        f"p95 {base['p95_ms']} ms, {base['rps']} req/s"
    )
    return 0


def _store(args: argparse.Namespace):
    if not args.results_db:
        raise ValueError(f"--results-db is required (or set ${RESULTS_DB_ENV})")
    from include.perfpipe.store import ResultsStore

    return ResultsStore(args.results_db)


def _report(comparison, decision: dict, out: str | None, document: dict) -> int:
    tested = comparison[comparison["test"] != "none"]
    print(
        tested[["name", "metric", "baseline", "current", "change_pct", "p_value", "direction"]].to_string(
            index=False, float_format=lambda v: f"{v:.4g}"
        )
    )
    print(("REGRESSION: " if decision["regressed"] else "ok: ") + decision["reason"])
    _write(out, document)
    return REGRESSED_EXIT if decision["regressed"] else 0


def _write(out: str | None, document: dict) -> None:
    if out:
        Path(out).write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
