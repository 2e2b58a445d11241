"""Serve the demo service: ``python -m include.demo_service [--host 127.0.0.1] [--port 8000]``."""

import argparse

import uvicorn

from include.demo_service.app import create_app

parser = argparse.ArgumentParser(prog="python -m include.demo_service", description=__doc__)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--db-url", default=None, help="PostgreSQL URL (default: $DEMO_DB_URL or the embedded demo DB)")
args = parser.parse_args()
uvicorn.run(create_app(args.db_url), host=args.host, port=args.port, log_level="warning", access_log=False)
