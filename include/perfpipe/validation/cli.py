"""``python -m include.perfpipe validate``: re-validate a saved run result and exit with its verdict's code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from include.perfpipe.metrics import MetricsRecorder

BAD_INPUT_EXIT = 3


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="validate a saved run result against the threshold suites (exit: verdict code)",
        description="Validate a LoadResult-shaped JSON (a load test's or DB benchmark's result dict, with its "
        "metrics) with the GX threshold suites. Exit codes: pass 0, fail 1, invalid 2, error 3.",
    )
    parser.add_argument("--result", required=True, help="LoadResult-shaped JSON file (needs 'metrics')")
    parser.add_argument("--db-result", help="a DB benchmark's result JSON whose per-query rows are checked too")
    parser.add_argument("--thresholds", help="threshold file (default include/config/thresholds.yaml)")
    parser.add_argument("--profile", help="profile name (default: the result's spec.profile)")
    parser.add_argument("--target", help="target (default: the result's spec.target)")
    parser.add_argument("--override", help='threshold overrides as JSON, e.g. \'{"api": {"p95_ms": 300}}\'')
    parser.add_argument("--run-dir", help="where validation.json and gx/ go (default: the result's folder)")
    parser.add_argument("--error", help="mark the run as failed with this message (verdict error)")
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    from include.perfpipe.validation import load_thresholds, validate
    from include.perfpipe.validation.metric_thresholds import metrics_of

    try:
        data = _read_result(args.result)
        spec = data.get("spec") or {}
        thresholds = load_thresholds(
            args.thresholds,
            overrides=args.override,
            profile=args.profile or spec.get("profile"),
            target=args.target or spec.get("target"),
        )
        recorder = MetricsRecorder.from_dict(data["metrics"])
        db_stats = None
        if args.db_result:
            db = _read_result(args.db_result)
            db_stats = MetricsRecorder.from_dict(db["metrics"]).stats_frame(float(db["duration_s"]))
        run_dir = Path(args.run_dir) if args.run_dir else Path(args.result).resolve().parent
        result = validate(
            recorder.stats_frame(float(data["duration_s"])),
            recorder.timeseries_frame(),
            thresholds=thresholds,
            stages=data["stages"],
            health=data["health"],
            recorder=recorder,
            run_dir=run_dir,
            aborted=bool(data.get("aborted", False)),
            abort_reason=data.get("abort_reason"),
            error=args.error,
            db_stats=db_stats,
            custom_metrics=metrics_of(data),
        )
    except (ValueError, OSError, KeyError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT
    print(f"{result.verdict}: {result.reason}" + (f" | {run_dir / result.data_docs}" if result.data_docs else ""))
    for note in result.notes:
        print(f"  note: {note}")
    return result.exit_code


def _read_result(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    if isinstance(data, dict) and isinstance(data.get("result"), dict):
        data = data["result"]
    needed = ("metrics", "duration_s", "stages", "health")
    missing = [key for key in needed if not isinstance(data, dict) or key not in data]
    if missing:
        raise ValueError(
            f"{path}: not a run result with metrics; missing {', '.join(missing)} "
            "(summary.json has no histograms: pass the result dict the run produced)"
        )
    return data
