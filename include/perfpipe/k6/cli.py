"""``python -m include.perfpipe loadtest --k6-script FILE --target URL --out DIR``: a k6 script as the load stage.

The run is validated as the engine's is (our threshold suites on the same frames) and k6's own thresholds
join the verdict (``summary.judge``). ``--processes N`` runs N k6 shards (execution segments) merged
exactly and judged once; ``--vus`` and ``--duration`` override the script's options only when given;
``--header``/``--auth`` reach the script only as environment variables (``secret_env_name``).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from include.perfpipe.errors import PerfpipeError, one_line

log = logging.getLogger("perfpipe.loadtest")
EXIT_ERROR = 3
# k6 exit codes that still leave a result to judge: 0, thresholds crossed, interrupted by us, test.abort()
JUDGED_EXIT_CODES = {0, 99, 105, 108}


def secret_env_name(header: str) -> str:
    """The environment variable a header's value reaches a k6 script as: ``X-Api-Key`` -> ``X_API_KEY``."""
    return re.sub(r"[^A-Za-z0-9]", "_", header).upper()


def run_k6_cli(args: argparse.Namespace, secret_headers: dict[str, str]) -> int:
    """Run, validate and write summary.json, k6-summary.json and timeseries.csv into ``args.out``."""
    from include.perfpipe.k6.runner import K6Plan, preflight, run_local
    from include.perfpipe.k6.summary import judge, k6_rows
    from include.perfpipe.loadtest.target import resolve_allowlist
    from include.perfpipe.validation import load_thresholds, validate_load_result

    out = Path(args.out)
    secrets = {secret_env_name(name): value for name, value in secret_headers.items()}
    shards = 1 if args.processes == "auto" else args.processes
    try:
        thresholds = load_thresholds(args.thresholds, profile=args.profile, target=args.target)
        plan = K6Plan(
            script=Path(args.k6_script),
            target=args.target,
            allowlist=tuple(resolve_allowlist()),
            vus=args.vus,
            duration=args.duration,
            secret_env=tuple(secrets),
            shard_count=shards,
        )
        plan = preflight(plan, secrets)
    except (PerfpipeError, ValueError, ConnectionError) as exc:
        return _error(out, exc)
    run = run_local(plan, out, secrets=secrets)
    result = run.result
    unexpected = [(i + 1, s.exit_code) for i, s in enumerate(run.shards) if s.exit_code not in JUDGED_EXIT_CODES]
    validation = validate_load_result(
        result, thresholds=thresholds, run_dir=out, custom_metrics=(result.metrics_frame(), [])
    )
    validation = judge(validation, k6_rows(plan.options.get("thresholds") or {}, run.summaries, result))
    if unexpected:
        from include.perfpipe.validation.verdict import Verdict

        validation.verdict = Verdict.ERROR
        validation.reason = "k6 failed: " + ", ".join(f"shard {i} exited with code {code}" for i, code in unexpected)
    validation.save(out)
    path = result.write(out, validation.to_dict())
    total = result.summary()["totals"]
    print(
        f"{validation.reason} | {total.get('count', 0)} requests, {total.get('rps') or 0:.1f} req/s, "
        f"p95 {total.get('p95_ms')} ms, errors {total.get('errors', 0)} | {path}"
    )
    return int(validation.exit_code)


def _error(out: Path, exc: Exception) -> int:
    import json

    message = f"{type(exc).__name__}: {one_line(exc)}"
    print(f"error: {message}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    document = {"version": 1, "verdict": "error", "reason": message}
    (out / "summary.json").write_text(json.dumps(document, indent=2) + "\n")
    return EXIT_ERROR
