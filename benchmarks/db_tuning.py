"""Benchmark: the closed tuning loop on the demo service, whose /items/search has no index.

    .venv/bin/python -m benchmarks.db_tuning [--duration 60s] [--rate 5] [--scenario FILE] [--rows 500000]
Starts a private PostgreSQL 15 cluster of the system installation (HypoPG, pg_stat_statements) and the demo
service on it; runs the demo scenario, takes the planner-verified index advice, applies it CONCURRENTLY and
runs the same load again. Prints p95 per endpoint and class before and after. Figures: docs/database.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from include.perfpipe.database import inspect_database
from include.perfpipe.database.tuning import rerun_with_statements, run_tuning_loop
from include.perfpipe.loadtest import load_spec, run_load_test
from tests.conftest import running_demo_service
from tests.integration.database.conftest import system_pg15_cluster

SCENARIO = Path(__file__).resolve().parents[1] / "include" / "config" / "scenarios" / "demo.yaml"


def tuning_loop(
    dsn: str,
    base_url: str,
    duration: str,
    rate: float,
    apply: bool = True,
    scenario: Path = SCENARIO,
    thresholds: dict | None = None,
) -> tuple[dict, list[dict]]:
    """The loop on a running demo service: first run, advice, apply, re-run; (outcome, findings).

    Open model at ``rate`` iterations/s: below the service's capacity, latency is the service's, not a queue's.
    """
    spec = load_spec(
        profile="smoke",
        target=base_url,
        scenario=scenario,
        overrides={"rate": rate, "duration": duration},
        allowlist=["127.0.0.1"],
    )
    before = rerun_with_statements(dsn, lambda: run_load_test(spec).to_dict())
    findings = inspect_database(dsn, thresholds, ["index_advice", "fk_without_index"])
    outcome = run_tuning_loop(
        dsn, findings, before, lambda: run_load_test(spec).to_dict(), allowlist=["public.*"], apply=apply
    )
    return outcome, findings


def prepared_database(server, rows: int) -> str:
    """A ``perfpipe_demo`` database on the cluster with pg_stat_statements and HypoPG created, and the demo's
    items table seeded with ``rows`` rows (the service seeds 50,000 itself into an empty table)."""
    import psycopg

    from include.demo_service.schema import CATEGORIES, CREATE_ITEMS, SEED_ITEMS

    with psycopg.connect(server.admin_dsn, autocommit=True) as admin:
        admin.execute("CREATE DATABASE perfpipe_demo")
    dsn = server.dsn("perfpipe_demo")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute("CREATE EXTENSION hypopg")
        conn.execute(CREATE_ITEMS)
        conn.execute(SEED_ITEMS, {"categories": list(CATEGORIES), "rows": rows})
        conn.execute("VACUUM ANALYZE items")
    return dsn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="60s")
    parser.add_argument(
        "--rate", type=float, default=5, help="iterations/s, open model (default 5: the CPU tool takes 1/4 core)"
    )
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument(
        "--rows",
        type=int,
        default=500_000,
        help="items to seed (default 500,000: at the demo's own 50,000 the scan is within 3x of the service's floor)",
    )
    args = parser.parse_args()
    with system_pg15_cluster() as server:
        dsn = prepared_database(server, args.rows)
        with running_demo_service(dsn) as base_url:
            outcome, findings = tuning_loop(dsn, base_url, args.duration, args.rate, scenario=args.scenario)
    for f in findings:
        ev = f["evidence"]
        print(f"{f['check']} {ev['status']}: {f['sql']} (cost {ev['cost_before']} -> {ev['cost_after']})")
    print(outcome["headline"], "| classes worse:", outcome["worse"] or "none")
    print(f"{'scope':8} {'name':14} {'p95 before':>11} {'p95 after':>10} {'ratio':>6} verdict   requests")
    for r in outcome["latency"]:
        p95 = r["p95"]
        print(
            f"{r['scope']:8} {r['name']:14} {p95['before']:11.2f} {p95['after']:10.2f} {p95['ratio'] or 0:6.1f} "
            f"{p95['verdict']:9} {r['count_before']} -> {r['count_after']}"
            + (f"  (U test p={p95.get('p_value')})" if r["scope"] == "class" else "")
        )
    for q in outcome["queries"][:5]:
        m = q["mean_ms"]
        print(
            f"query mean {m['before']:.3f} -> {m['after']:.3f} ms ({q['calls_before']} -> {q['calls_after']} calls)"
            f" {q['indexes']} {q['query'][:70]}"
        )


if __name__ == "__main__":
    main()
