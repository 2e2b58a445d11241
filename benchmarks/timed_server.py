"""A loopback HTTP/1.1 server with a known service time that measures its own service times.

``python -m benchmarks.timed_server --port P --delay-ms 20 [--jitter-ms 10] [--stall-every 10 --stall 1]``

A request is answered ``delay + uniform(0, jitter)`` ms after the kernel received it (or, when it
arrives in a stall window, when the window ends). The service time recorded per request runs from
the kernel's receive timestamp (``SO_TIMESTAMPNS``) to the response's send, so the server's own
scheduling delays count too. ``GET /stats`` answers the count and p50/p95/p99 (ms) as JSON;
``GET /reset`` clears them. Single-threaded (selectors), Linux only.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import random
import selectors
import socket
import struct
import time

from hdrh.histogram import HdrHistogram

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux value; not exported by every Python
_ANCILLARY = socket.CMSG_SPACE(16)


def _response(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class TimedServer:
    def __init__(self, options) -> None:
        self.options = options
        self.hist = HdrHistogram(1, 60_000_000, 3)
        self.started_ns = time.time_ns()
        self.due: list[tuple[int, int, socket.socket, int]] = []  # (due_ns, seq, conn, received_ns)
        self.seq = 0
        self.selector = selectors.DefaultSelector()
        self.buffers: dict[socket.socket, bytes] = {}

    def serve(self, port: int) -> None:
        listener = socket.create_server(("127.0.0.1", port), backlog=4096)
        listener.setblocking(False)
        self.selector.register(listener, selectors.EVENT_READ, self._accept)
        while True:
            timeout = max(0.0, (self.due[0][0] - time.time_ns()) / 1e9) if self.due else None
            for key, _ in self.selector.select(timeout):
                key.data(key.fileobj)
            now = time.time_ns()
            while self.due and self.due[0][0] <= now:
                _, _, conn, received = heapq.heappop(self.due)
                self._send(conn, _response(b"ok"))
                self.hist.record_value(max(1, (time.time_ns() - received) // 1000))

    def _accept(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.buffers[conn] = b""
        self.selector.register(conn, selectors.EVENT_READ, self._read)

    def _read(self, conn: socket.socket) -> None:
        try:
            data, ancillary, _, _ = conn.recvmsg(65536, _ANCILLARY)
        except (BlockingIOError, ConnectionError):
            data, ancillary = b"", []
        if not data:
            self.selector.unregister(conn)
            self.buffers.pop(conn, None)
            conn.close()
            return
        received = time.time_ns()
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanos = struct.unpack("qq", payload[:16])
                received = seconds * 1_000_000_000 + nanos
        buffer = self.buffers[conn] + data
        while b"\r\n\r\n" in buffer:  # GET requests only: no bodies
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            self._request(conn, head.split(b" ", 2)[1], received)
        self.buffers[conn] = buffer

    def _request(self, conn: socket.socket, path: bytes, received: int) -> None:
        o = self.options
        if path == b"/stats":
            figures = {
                "count": self.hist.get_total_count(),
                **{f"p{p}_ms": self.hist.get_value_at_percentile(p) / 1000 for p in (50, 95, 99)},
            }
            self._send(conn, _response(json.dumps(figures).encode()))
            return
        if path == b"/reset":
            self.hist = HdrHistogram(1, 60_000_000, 3)
            self._send(conn, _response(b"reset"))
            return
        due = received + int((o.delay_ms + random.uniform(0, o.jitter_ms)) * 1e6)
        if o.stall_every:
            into = ((received - self.started_ns) / 1e9) % o.stall_every
            if into < o.stall:
                due = max(due, received + int((o.stall - into) * 1e9))
        self.seq += 1
        heapq.heappush(self.due, (due, self.seq, conn, received))

    def _send(self, conn: socket.socket, data: bytes) -> None:
        with contextlib.suppress(OSError):
            conn.send(data)  # small responses to a reading client: the socket buffer takes them whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--stall-every", type=float, default=0.0, help="seconds between stalls (0: none)")
    parser.add_argument("--stall", type=float, default=1.0, help="stall length in seconds")
    options = parser.parse_args()
    TimedServer(options).serve(options.port)


if __name__ == "__main__":
    main()
