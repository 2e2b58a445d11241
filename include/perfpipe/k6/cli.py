"""``python -m include.perfpipe loadtest --k6-script FILE --target URL --out DIR``: a k6 script as the load stage.

Put together by the composition root (``plan_run`` -> ``run_shard`` per shard -> ``judge_run``) as every run
is: our threshold suites on the same frames, k6's own thresholds beside them. ``--processes N`` runs N k6
shards (execution segments) on this machine from one common start, merged exactly and judged once. The
script resolves as ``--scenario`` does (inside include/config/ or a configured folder:
``config_files.config_file``); ``--vus`` and ``--duration`` override its options only when given;
``--header``/``--auth`` reach it only as environment variables (``engine.secret_env_name``:
``__ENV.AUTHORIZATION``).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from include.perfpipe.errors import PerfpipeError, one_line
from include.perfpipe.loadtest.result import LoadResult, merge_results

EXIT_ERROR = 3
START_DELAY_S = 0.5  # shards start together this long after the last was launched


def run_k6_cli(args: argparse.Namespace, secret_headers: dict[str, str]) -> int:
    """Run, judge and write summary.json, k6-summary.json, timeseries.csv and validation.json into ``args.out``."""
    from include.perfpipe.config_files import config_file
    from include.perfpipe.runs import judge_and_write, plan_run
    from include.perfpipe.validation import load_thresholds

    out = Path(args.out)
    shards = 1 if args.processes == "auto" else args.processes
    try:
        thresholds = load_thresholds(args.thresholds, profile=args.profile, target=args.target)
        plan = plan_run(
            args.profile,
            args.target,
            thresholds,
            overrides={"vus": args.vus, "duration": args.duration},
            credential_names=list(secret_headers),
            engine="k6",
            k6_script=config_file(args.k6_script, "--k6-script", cwd=True),
            profile_stages=args.profile_stages,
        )
        result = merge_results(run_shards_here(plan.spec, shards, secret_headers))
    except (PerfpipeError, ValueError, ConnectionError) as exc:
        return _error(out, exc)
    validation, line = judge_and_write(result, thresholds, out)
    print(line)
    return int(validation.exit_code)


def run_shards_here(spec, count: int, secret_headers: Mapping[str, str]) -> list[LoadResult]:
    """Every shard of a planned k6 spec on this machine, from one common start; an abort on one stops the
    others (their ``should_stop`` turns true: SIGINT)."""
    from include.perfpipe.runs import RunHooks, Shard, engine_named, run_shard

    engine = engine_named("k6")
    start_at = time.time() + START_DELAY_S
    stop: list[str] = []
    hooks = RunHooks(should_stop=lambda: stop[0] if stop else None, on_abort=stop.append)
    results: list[LoadResult | None] = [None] * count
    failures: list[Exception] = []

    def one(index: int) -> None:
        try:
            results[index] = run_shard(
                spec, Shard(index, count, start_at), credentials=lambda _: secret_headers, engine=engine, hooks=hooks
            )
        except Exception as exc:  # raised below, once every shard has ended
            failures.append(exc)
            stop.append(f"k6 shard {index + 1} failed: {one_line(exc)}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


def _error(out: Path, exc: Exception) -> int:
    message = f"{type(exc).__name__}: {one_line(exc)}"
    print(f"error: {message}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    document = {"version": 1, "verdict": "error", "reason": message}
    (out / "summary.json").write_text(json.dumps(document, indent=2) + "\n")
    return EXIT_ERROR
