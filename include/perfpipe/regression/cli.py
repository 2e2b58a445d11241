"""``python -m include.perfpipe compare``: compare a saved run with a baseline run; exit 1 on a regression."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REGRESSED_EXIT = 1
BAD_INPUT_EXIT = 3


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare a run with its baseline (Mann-Whitney U over per-second windows)",
        description="Compare two saved runs (a folder with summary.json and timeseries.csv, or a LoadResult "
                    "JSON file) per class and endpoint on p50, p95, p99, req/s and error rate. "
                    "Exit codes: 0 no significant regression, 1 significant regression, 3 bad input.",
    )
    parser.add_argument("--baseline", required=True, help="baseline run folder or LoadResult JSON file")
    parser.add_argument("--current", required=True, help="current run folder or LoadResult JSON file")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    parser.add_argument("--min-change-pct", type=float, default=5.0,
                        help="smallest change in %% that counts (default 5)")
    parser.add_argument("--out", help="write the comparison rows and gate decision here as JSON")
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    from include.perfpipe.regression import compare_runs, gate_decision
    from include.perfpipe.regression.rundir import read_run
    from include.perfpipe.regression.section import comparison_records

    try:
        comparison = compare_runs(read_run(args.baseline, "baseline"), read_run(args.current, "current"),
                                  alpha=args.alpha, min_change_pct=args.min_change_pct)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT
    decision = gate_decision(comparison)
    tested = comparison[comparison["test"] != "none"]
    print(tested[["name", "metric", "baseline", "current", "change_pct", "p_value", "direction"]]
          .to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(("REGRESSION: " if decision["regressed"] else "ok: ") + decision["reason"])
    if args.out:
        document = {"gate": decision, "comparison": comparison_records(comparison)}
        Path(args.out).write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    return REGRESSED_EXIT if decision["regressed"] else 0

