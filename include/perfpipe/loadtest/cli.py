"""``python -m include.perfpipe loadtest``: run a load test, validate it, write summary.json and timeseries.csv.

Exit codes: 0 pass, 1 threshold failure, 2 invalid test (generator saturated), 3 error (bad input,
target refused or unreachable). The console shows the progress lines, warnings and the verdict;
``-v`` adds the libraries' INFO logs (GX, Airflow-free but chatty), ``-vv`` DEBUG.

SECRETS: credentials never go on the command line, where ps and shell history show them. Give them as
$PERFPIPE_AUTH=USER:PASSWORD (HTTP Basic auth), $PERFPIPE_HEADER_<NAME>=VALUE (PERFPIPE_HEADER_X_API_KEY sends
X-Api-Key; '_' becomes '-') or --header-file FILE (one 'Name: value' a line). Only the header names are
recorded; the values reach the target only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from include.perfpipe.errors import ConfigError, one_line

EXIT_ERROR = 3
AUTH_ENV = "PERFPIPE_AUTH"  # USER:PASSWORD, HTTP Basic auth for every request
HEADER_ENV_PREFIX = "PERFPIPE_HEADER_"  # PERFPIPE_HEADER_X_API_KEY=... sends X-Api-Key: ...


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "loadtest",
        help="run an HTTP load test and validate it against thresholds",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--target", required=True, help="base URL; without --scenario, the exact URL to GET")
    parser.add_argument("--profile", default="smoke", help="profile in include/config/profiles.yaml (default smoke)")
    parser.add_argument("--vus", type=int, help="constant virtual users (closed model); open model: max in flight")
    parser.add_argument("--duration", help="test length, e.g. 30s or 2m (scales the profile's stages)")
    parser.add_argument("--rate", type=float, help="constant arrival rate in req/s (open model)")
    parser.add_argument("--max-vus", type=int, help="open model: cap on requests in flight")
    parser.add_argument(
        "--scenario",
        help="scenario YAML (endpoints, weights, classes), inside include/config/ or a folder of "
        "$PERFPIPE_CONFIG_DIRS (comma-separated); relative to the current folder or those",
    )
    parser.add_argument(
        "--k6-script",
        metavar="FILE",
        help="run this k6 script instead of our engine (docs/k6.md); --processes N: N k6 shards",
    )
    parser.add_argument(
        "--profile-stages",
        action="store_true",
        help="with --k6-script: run the profile's stages (k6 --stage) instead of the script's own scenarios",
    )
    parser.add_argument(
        "--processes",
        type=_processes,
        default="auto",
        help="generator processes, one event loop each (default auto: one per usable core)",
    )
    parser.add_argument(
        "--class",
        dest="class_name",
        metavar="NAME",
        help="class of the single URL (default api); with --scenario, run only that class's endpoints",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra request header that is not a secret (repeatable); a secret-looking one (Authorization, "
        "X-Api-Key, a token ...) is refused here, where ps and shell history show it: see SECRETS above",
    )
    parser.add_argument(
        "--header-file",
        metavar="FILE",
        help="request headers, one 'Name: value' a line (secret ones too); only their names are recorded",
    )
    parser.add_argument(
        "--auth", metavar="USER:PASSWORD", help="refused: set $PERFPIPE_AUTH instead (see SECRETS above)"
    )
    parser.add_argument("--timeout", help="per-request timeout (default 30s)")
    parser.add_argument("--insecure", action="store_true", help="https: accept any certificate (self-signed)")
    parser.add_argument(
        "--prometheus",
        metavar="[HOST:]PORT",
        help="serve per-second metrics for Prometheus while the run goes, at http://HOST:PORT/metrics "
        "(host default 127.0.0.1; port 0: a free one, logged)",
    )
    parser.add_argument("--thresholds", help="thresholds YAML (default include/config/thresholds.yaml)")
    parser.add_argument("--out", required=True, help="directory for summary.json and timeseries.csv")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="also show the libraries' logs: -v INFO, -vv DEBUG"
    )
    parser.set_defaults(func=run_cli)


def _processes(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'auto', got {value!r}") from None


def configure_console(verbosity: int) -> None:
    """Progress lines (``perfpipe.loadtest`` INFO) and every WARNING; libraries' INFO only with ``-v``."""
    if logging.getLogger().handlers:
        return  # the embedding application decides
    if verbosity:
        logging.basicConfig(
            level=logging.INFO if verbosity == 1 else logging.DEBUG,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    else:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("perfpipe.loadtest").setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)


def _header(line: str, where: str) -> tuple[str, str]:
    name, sep, content = line.partition(":")
    if not sep or not name.strip():
        raise ConfigError(f"{where}: expected 'Name: value' (the value is not shown: it may be a credential)")
    return name.strip(), content.strip()


def _credential_headers(
    values: list[str], auth: str | None, header_file: str | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The request headers of ``--header`` (not secret), ``--header-file``, ``$PERFPIPE_HEADER_<NAME>`` and
    ``$PERFPIPE_AUTH`` (``USER:PASSWORD``, Basic auth); their values stay out of the spec and summary.json.
    A secret on the command line (``--auth``, a secret-looking ``--header``) is refused, naming where it goes."""
    from include.perfpipe.config_files import read_text
    from include.perfpipe.loadtest.http.credentials import basic_auth, checked_headers, looks_secret

    environ = os.environ if environ is None else environ
    if auth is not None:
        raise ConfigError(f"--auth: a password on the command line shows in ps and shell history; set {AUTH_ENV}")
    headers = {}
    for value in values:
        name, content = _header(value, "--header")
        if looks_secret(name):
            env = HEADER_ENV_PREFIX + name.upper().replace("-", "_")
            raise ConfigError(
                f"--header {name}: a secret on the command line shows in ps and shell history (value not shown); "
                f"set ${env} or put it in --header-file"
            )
        headers[name] = content
    if header_file is not None:
        lines = read_text(header_file, "--header-file").splitlines()
        headers.update(_header(line, f"--header-file line {i}") for i, line in enumerate(lines, 1) if line.strip())
    for key, value in environ.items():
        if key.startswith(HEADER_ENV_PREFIX) and len(key) > len(HEADER_ENV_PREFIX):
            headers["-".join(w.capitalize() for w in key[len(HEADER_ENV_PREFIX) :].split("_"))] = value
    if environ.get(AUTH_ENV):
        user, sep, password = environ[AUTH_ENV].partition(":")
        if not sep:
            raise ConfigError(f"${AUTH_ENV}: expected USER:PASSWORD (the value is not shown)")
        headers["Authorization"] = basic_auth(user, password)
    return checked_headers(headers, "headers")


def run_cli(args: argparse.Namespace) -> int:
    from include.perfpipe.config_files import config_file
    from include.perfpipe.runs import engine_named, judge_and_write, judge_error, plan_run, run_shard

    configure_console(args.verbose)
    out = Path(args.out)
    if args.k6_script:
        from include.perfpipe.k6.cli import run_k6_cli

        try:
            secrets = _credential_headers(args.header, args.auth, args.header_file)
        except ValueError as exc:
            return _error(out, exc)
        return run_k6_cli(args, secrets)
    try:
        from include.perfpipe.validation import load_thresholds

        thresholds = load_thresholds(args.thresholds, profile=args.profile, target=args.target)
    except (ValueError, ImportError) as exc:  # no verdict possible without thresholds
        return _error(out, exc)
    try:
        overrides = {
            "vus": args.vus,
            "duration": args.duration,
            "rate": args.rate,
            "max_vus": args.max_vus,
            "timeout": args.timeout,
            "verify_tls": False if args.insecure else None,
            "live_metrics": args.prometheus,
        }
        secrets = _credential_headers(args.header, args.auth, args.header_file)
        plan = plan_run(
            args.profile,
            args.target,
            thresholds,
            scenario=config_file(args.scenario, "--scenario", cwd=True) if args.scenario else None,
            overrides=overrides,
            credential_names=list(secrets),
            class_name=args.class_name,
        )
        engine = engine_named(plan.engine, processes=args.processes)
        result = run_shard(plan.spec, credentials=lambda _conn_id: secrets, engine=engine)
    except (ValueError, ConnectionError) as exc:
        print(f"error: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        validation = judge_error(exc, thresholds, out)
        (out / "summary.json").write_text(
            json.dumps(
                {
                    "version": 1,
                    "verdict": str(validation.verdict),
                    "reason": validation.reason,
                    "validation": validation.to_dict(),
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
        return int(validation.exit_code)
    validation, line = judge_and_write(result, thresholds, out)
    print(line)
    for note in result.health.get("notes", []):
        print(f"note: {note}")
    return int(validation.exit_code)


def _error(out: Path, exc: Exception) -> int:
    """No thresholds to validate against: say why on stderr and in summary.json, exit 3."""
    message = f"{type(exc).__name__}: {exc}"
    print(f"error: {message}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps({"version": 1, "verdict": "error", "reason": message}, indent=2) + "\n"
    )
    return EXIT_ERROR
