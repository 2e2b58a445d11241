"""``python -m include.perfpipe scenario``: scenario files from a browser recording or an OpenAPI
description (docs/scenarios.md, *From a recording* and *From an OpenAPI description*)."""

from __future__ import annotations

import argparse
import re
import sys

from include.perfpipe.errors import ConfigError


def register(subparsers) -> None:
    parser = subparsers.add_parser("scenario", help="write a scenario file from a HAR recording or an OpenAPI spec")
    commands = parser.add_subparsers(dest="scenario_command", required=True, metavar="SOURCE")
    har = commands.add_parser(
        "from-har",
        help="a browser recording (DevTools: Save all as HAR) as a journey, its session values correlated",
        description="Convert a HAR recording into a journey that replays against a live service: values the "
        "responses gave are extracted and templated, typed credentials go to a feeder file beside the scenario.",
    )
    har.add_argument("har", metavar="RECORDING.har")
    har.add_argument("-o", "--output", required=True, metavar="SCENARIO.yaml")
    har.add_argument("--host", help="the target host (default: the one with the most requests)")
    har.add_argument("--keep-static", action="store_true", help="keep the target's scripts, styles, images, fonts")
    har.add_argument("--keep-user-agent", action="store_true", help="keep the recorded User-Agent header")
    har.add_argument("--setup", type=int, metavar="N", help="the first N calls are the setup (run once per VU)")
    har.add_argument("--steps", type=_span, metavar="A-B", help="calls A to B are the steps (the loop)")
    har.set_defaults(func=_from_har)
    spec = commands.add_parser(
        "from-openapi",
        help="a starting journey that calls every operation of an OpenAPI 3 description",
        description="Call every operation with the spec's examples or values generated from its schemas, "
        "ordered so that created ids (links, or id names: POST /orders -> {order_id}) feed later calls.",
    )
    spec.add_argument("spec", metavar="SPEC", help="an OpenAPI 3 file (JSON or YAML) or its http(s) URL")
    spec.add_argument("-o", "--output", required=True, metavar="SCENARIO.yaml")
    spec.add_argument(
        "--credentials",
        metavar="USERS.csv",
        help="a CSV of users for the login operation (columns named as its fields, e.g. username,password)",
    )
    spec.set_defaults(func=_from_openapi)


def _span(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected A-B (call numbers, e.g. 4-9), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _from_har(args) -> int:
    from include.perfpipe.recording.from_har import SANITIZED, convert
    from include.perfpipe.recording.writer import write

    draft = convert(args.har, args.output, args.host, args.keep_static, args.keep_user_agent, args.setup, args.steps)
    for path in write(draft, args.output):
        print(f"wrote {path}")
    if SANITIZED in draft.notes:
        print(SANITIZED, file=sys.stderr)
    return 0


def _from_openapi(args) -> int:
    from include.perfpipe.recording.openapi import convert
    from include.perfpipe.recording.writer import write

    draft, unfilled = convert(args.spec, args.output, args.credentials)
    for path in write(draft, args.output):
        print(f"wrote {path}")
    for line in unfilled:
        print(f"left out: {line}", file=sys.stderr)
    if not draft.steps:
        raise ConfigError("no operation could be filled", file=args.spec)
    return 0
