"""The perfpipe command line: one subcommand per stage, for runs outside Airflow.

Each stage package exposes ``register(subparsers)``, which adds its subcommands and sets
``func`` on them: a callable taking the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from include.perfpipe.errors import PerfpipeError, one_line

EXIT_ERROR = 3  # docs/architecture.md: verdict error (target or DB unreachable, bad input)
STAGE_COMMANDS = (
    "include.perfpipe.loadtest.cli",
    "include.perfpipe.database.cli",
    "include.perfpipe.validation.cli",
    "include.perfpipe.reporting.cli",
    "include.perfpipe.regression.cli",
    "include.perfpipe.embedded_db",
    "include.perfpipe.recording.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.perfpipe",
        description="perfpipe: load tests, PostgreSQL optimisation, GX validation and reports.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in STAGE_COMMANDS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The subcommand's exit code; a ``PerfpipeError`` (bad input, a target or database out of reach)
    is one line on stderr and exit code 3, never a traceback."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except PerfpipeError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
