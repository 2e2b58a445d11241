"""Per-response cost of the connection's parser: send + data_received of an nginx-like response.

``python -m benchmarks.http_parser [--connections 1,500] [--rounds 15] [--previous-parser COMMIT]``

In one process, interleaved round by round (the best round of each is shown), on a fake transport:
the previous hand-written parser (``connection.py`` of ``--previous-parser``, from a temporary git
worktree), and ours with cookies and redirects on (the default: the head is scanned for Set-Cookie and
Location), and off. ``--connections`` cycles through that many connections, as 500 VUs would.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

from benchmarks.loadtest import PREVIOUS_PARSER, ROOT, previous_parser, table
from include.perfpipe.loadtest.clients.endpoints import FlatEndpoint
from include.perfpipe.loadtest.contract import Endpoint
from include.perfpipe.loadtest.http.cookies import CookieJar

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Wed, 02 Dec 2026 14:00:00 GMT\r\n"
    b"Content-Type: application/octet-stream\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
)
PER_ROUND = 40_000


class _Owner:
    def completed(self, conn, status, body) -> None: ...
    def lost(self, conn) -> None: ...

    def failed(self, conn, error) -> None:
        raise RuntimeError(error)


class _Transport:
    def write(self, data) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _connections(module, count: int, **kwargs) -> tuple[list, object]:
    conns = []
    for _ in range(count):
        conn = module.HttpConnection(_Owner(), **kwargs)
        conn.connection_made(_Transport())
        conns.append(conn)
    endpoint = Endpoint(name="e", url="http://127.0.0.1:1/")
    if hasattr(module, "Prepared"):  # in connection.py before the folder split
        return conns, module.Prepared(endpoint)
    return conns, FlatEndpoint(endpoint).request


def _round(conns: list, endpoint) -> float:
    began = time.perf_counter()
    for _ in range(PER_ROUND // len(conns)):
        for conn in conns:
            conn.send(endpoint, 0.0)
            conn.data_received(RESPONSE)
    return (time.perf_counter() - began) / (PER_ROUND // len(conns) * len(conns))


def _connection_file(tree: Path) -> Path:
    """The connection module of checkout ``tree``: ``loadtest/http/`` since the folder split, ``loadtest/`` before."""
    now = tree / "include/perfpipe/loadtest/http/connection.py"
    return now if now.exists() else tree / "include/perfpipe/loadtest/connection.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", default="1,500")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--previous-parser", default=PREVIOUS_PARSER)
    args = parser.parse_args()
    ours = _module("connection_now", _connection_file(ROOT))
    rows = []
    with previous_parser(args.previous_parser, Path(tempfile.mkdtemp(prefix="perfpipe-parser-"))) as tree:
        old = _module("connection_before", _connection_file(tree))
        for count in (int(c) for c in args.connections.split(",")):
            variants = {
                f"previous parser ({args.previous_parser[:7]})": _connections(old, count),
                "ours, cookies and redirects on": _connections(ours, count, cookies=CookieJar(), follow_redirects=True),
                "ours, cookies and redirects off": _connections(ours, count),
            }
            best = dict.fromkeys(variants, float("inf"))
            for _ in range(args.rounds):
                for name, (conns, endpoint) in variants.items():
                    best[name] = min(best[name], _round(conns, endpoint))
            rows += [[count, name, f"{seconds * 1e6:.2f}"] for name, seconds in best.items()]
    print(table(["connections", "parser", "µs per response (best round)"], rows))


if __name__ == "__main__":
    main()
