"""Subcommands of the database stage.

``db-inspect``  findings (PgHero-grade insights) into DIR/findings.json (docs/findings-schema.md);
``db-bench``    query-latency benchmark into DIR/summary.json + DIR/timeseries.csv, verdict from validation;
``db-maintain`` VACUUM (ANALYZE) per table, plus opt-in allowlisted index changes, into DIR/maintenance.json.

Exit codes: 0 pass, 1 fail (threshold breached / ``--fail-on`` severity found), 2 invalid benchmark
(generator saturated), 3 error (database unreachable, bad input).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from pathlib import Path

from include.perfpipe.dsn_option import add_dsn_option

EXIT_ERROR = 3


def register(subparsers) -> None:
    common = argparse.ArgumentParser(add_help=False)
    add_dsn_option(common, "--dsn", "libpq connection string or URL of the database, without its password")
    common.add_argument("--out", required=True, help="output directory")

    inspect_p = subparsers.add_parser("db-inspect", parents=[common], help="PostgreSQL insights into findings.json")
    inspect_p.add_argument("--config", help="YAML with database thresholds (its `database` section, if any)")
    inspect_p.add_argument("--check", action="append", help="run only this check (repeatable)")
    inspect_p.add_argument(
        "--fail-on",
        choices=["critical", "warning", "info"],
        help="exit 1 when a finding of this severity or worse exists",
    )
    inspect_p.set_defaults(func=run_inspect)

    bench = subparsers.add_parser("db-bench", parents=[common], help="query-latency benchmark (class db)")
    bench.add_argument("--connections", type=int, default=100, help="concurrent connections (default 100, capped)")
    bench.add_argument("--duration", default="30s", help="benchmark length, e.g. 30s (default)")
    bench.add_argument(
        "--queries",
        help="YAML file with a `queries` list, like include/config/db_queries.yaml; inside include/config/ or a "
        "folder of $PERFPIPE_CONFIG_DIRS (comma-separated)",
    )
    bench.add_argument(
        "--query", action="append", help="SQL to run (repeatable; default: top read-only pg_stat_statements SELECTs)"
    )
    bench.add_argument("--rate", type=float, help="pace all connections to this many queries/s in total")
    bench.add_argument("--allow-writes", action="store_true", help="do not force read-only transactions")
    bench.add_argument("--thresholds", help="thresholds YAML (default include/config/thresholds.yaml)")
    bench.add_argument("--profile", help="threshold profile whose suites apply (e.g. stress: 100+ connections)")
    bench.set_defaults(func=run_bench)

    maintain = subparsers.add_parser("db-maintain", parents=[common], help="safe VACUUM (ANALYZE) and index changes")
    maintain.add_argument("--table", action="append", help="table to vacuum (repeatable; default all)")
    maintain.add_argument("--lock-timeout", type=float, default=5, help="seconds to wait for a lock (default 5)")
    maintain.add_argument("--statement-timeout", type=float, default=300, help="seconds per table (default 300)")
    maintain.add_argument("--findings", help="findings.json whose index recommendations to plan/apply")
    maintain.add_argument("--apply", action="store_true", help="run allowlisted index changes (CONCURRENTLY)")
    maintain.add_argument(
        "--allow",
        action="append",
        default=[],
        help="object allowed to change, e.g. public.orders_customer_idx or public.* (repeatable)",
    )
    maintain.set_defaults(func=run_maintain)


def _logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def _error(out: Path, name: str, exc: Exception) -> int:
    message = f"{type(exc).__name__}: {str(exc).strip()}"
    print(f"error: {message}", file=sys.stderr)
    _write_json(out / name, {"version": 1, "verdict": "error", "reason": message})
    return EXIT_ERROR


def run_inspect(args: argparse.Namespace) -> int:
    import psycopg

    from . import findings as findings_mod
    from .config import load_config
    from .connection import redact
    from .digest import digest
    from .inspect import inspect_database
    from .statements import snapshot_statements
    from .tables import table_stats

    _logging()
    out = Path(args.out)
    try:
        cfg = load_config(args.config)
        found = inspect_database(args.dsn, cfg, args.check)
        snapshot = snapshot_statements(args.dsn)
        tables = table_stats(args.dsn)
    except (ValueError, psycopg.Error) as exc:
        return _error(out, "findings.json", exc)
    counts = {s: sum(f["severity"] == s for f in found) for s in findings_mod.SEVERITIES}
    summary = digest(found)
    path = _write_json(
        out / "findings.json",
        {
            "version": 1,
            "generated_at": dt.datetime.now(dt.UTC).isoformat(),
            "dsn": redact(args.dsn),
            "database": snapshot["database"],
            "server_version": snapshot["server_version"],
            "thresholds": cfg,
            "counts": counts,
            "statements": {"available": snapshot["available"], "reason": snapshot["reason"]},
            "tables": tables,
            "summary": summary,
            "findings": found,
        },
    )
    for group in summary:
        print(f"{group['subject']}: " + "; ".join(f"[{x['severity']}] {x['text']}" for x in group["lines"]))
    print(f"{len(found)} findings ({', '.join(f'{n} {s}' for s, n in counts.items())}) | {path}")
    if args.fail_on and any(
        findings_mod.severity_rank(f["severity"]) <= findings_mod.severity_rank(args.fail_on) for f in found
    ):
        return 1
    return 0


def run_bench(args: argparse.Namespace) -> int:
    import psycopg

    from include.perfpipe.config_files import config_file
    from include.perfpipe.runs import judge_run, plan_benchmark, run_benchmark

    from .statements import snapshot_statements, statements_delta

    _logging()
    out = Path(args.out)
    try:
        from include.perfpipe.loadtest.result import LoadResult
        from include.perfpipe.validation import load_thresholds

        plan = plan_benchmark(
            duration=args.duration,
            connections=args.connections,
            queries_file=config_file(args.queries, "--queries", cwd=True) if args.queries else None,
            queries=args.query or [],
            rate=args.rate,
            read_only=not args.allow_writes,
            duration_field="--duration",
        )
        thresholds = load_thresholds(args.thresholds, profile=args.profile)
        before = snapshot_statements(args.dsn)
        raw = run_benchmark(plan, args.dsn)
        after = snapshot_statements(args.dsn)
    except (ValueError, psycopg.Error, ImportError) as exc:
        return _error(out, "summary.json", exc)
    raw["spec"]["profile"] = args.profile  # the thresholds' profile; target (redacted) and model are the spec's
    result = LoadResult.from_dict(raw)
    validation = judge_run(result, thresholds, out)
    summary = result.summary(validation.to_dict())
    summary.update(
        connections=raw["connections"],
        connection_cap=raw["connection_cap"],
        statements_window=statements_delta(before, after),
    )
    out.mkdir(parents=True, exist_ok=True)
    result.timeseries_frame().to_csv(out / "timeseries.csv", index=False)
    path = _write_json(out / "summary.json", summary)
    total = summary["totals"]
    print(
        f"{validation.verdict}: {validation.reason} | {raw['connections']} connections, {total.get('count', 0)} "
        f"queries, {total.get('rps') or 0:.1f} q/s, p95 {total.get('p95_ms')} ms, errors {total.get('errors', 0)}"
        f" | {path}"
    )
    return int(validation.exit_code)


def run_maintain(args: argparse.Namespace) -> int:
    import psycopg

    from .maintenance import apply_recommendations, vacuum_analyze

    _logging()
    out = Path(args.out)
    try:
        vacuum = vacuum_analyze(args.dsn, args.table, args.lock_timeout, args.statement_timeout)
        changes = []
        if args.findings:
            document = json.loads(Path(args.findings).read_text())
            found = document["findings"] if isinstance(document, dict) else document
            changes = apply_recommendations(
                args.dsn, found, args.allow, apply=args.apply, lock_timeout_s=args.lock_timeout
            )
    except (ValueError, KeyError, OSError, psycopg.Error) as exc:
        return _error(out, "maintenance.json", exc)
    path = _write_json(out / "maintenance.json", {"version": 1, "vacuum": vacuum, "recommendations": changes})
    statuses = [r["status"] for r in vacuum + changes]
    print(
        f"{len(vacuum)} tables vacuumed ({statuses.count('skipped_lock')} skipped on locks), "
        f"{len(changes)} recommendations ({sum(r['status'] == 'applied' for r in changes)} applied) | {path}"
    )
    return 0
