"""``python -m include.perfpipe report``: render a saved run bundle, optionally against the results history."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from include.perfpipe.dsn_option import add_dsn_option
from include.perfpipe.vocabulary import RESULTS_DB_ENV


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render report.html, summary.md, summary.json and junit.xml from a run bundle (JSON file)",
        description="Render a run bundle (docs/architecture.md) into a report folder. With --results-db the "
        "run is also saved to the results history and compared with its baseline and recent runs.",
    )
    parser.add_argument("bundle", type=Path, help="JSON file with the run bundle")
    parser.add_argument("--out", type=Path, required=True, help="folder to render into")
    add_dsn_option(
        parser,
        "--results-db",
        f"results store DSN (default ${RESULTS_DB_ENV}); omit to render without history",
        env=RESULTS_DB_ENV,
    )
    parser.add_argument("--history", type=int, default=20, help="runs in the trend (default 20)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from include.perfpipe.payloads import RunBundle, checked
    from include.perfpipe.reporting import render_report
    from include.perfpipe.validation.verdict import Verdict, run_verdict

    try:
        bundle = json.loads(args.bundle.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"perfpipe report: cannot read bundle {str(args.bundle)!r}: {exc}")
        return 3
    try:
        checked(RunBundle, bundle, "bundle")
        if args.results_db:
            from include.perfpipe.regression.baseline import find_baseline, shape_of
            from include.perfpipe.store import ResultsStore

            store = ResultsStore(args.results_db)
            store.migrate()
            shape = shape_of(bundle.get("loadtest"))
            bundle.update(find_baseline(store, bundle["run"], shape, limit=args.history))
            store.save_bundle(bundle, *run_verdict(bundle), shape=shape)
        paths = render_report(bundle, args.out)
    except (KeyError, ValueError) as exc:
        print(f"perfpipe report: bad bundle {str(args.bundle)!r}: {exc}")
        return 3
    summary = json.loads(paths["json"].read_text())
    print(f"perfpipe report: {summary['verdict']['verdict']}: {summary['verdict']['reason']}")
    print(f"perfpipe report: {paths['html']}")
    return Verdict(summary["verdict"]["verdict"]).exit_code
