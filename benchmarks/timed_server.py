"""A loopback HTTP/1.1 server with a known service time, measuring its own service times.

``python -m benchmarks.timed_server --port P --delay-ms 20 [--jitter-ms 10] [--stall-every 10 --stall 1]``
Each request waits ``delay + uniform(0, jitter)`` ms (or, during a stall window, until the window ends)
and the server records, per request, the time from the request's last byte read to the response
written. ``GET /stats`` answers the recorded p50/p95/p99 (ms) and count as JSON; ``GET /reset`` clears.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from hdrh.histogram import HdrHistogram


class TimedServer(asyncio.Protocol):
    def __init__(self, options, hist_box) -> None:
        self.options, self.box = options, hist_box
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # GET requests only: no bodies
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1]
            if path == b"/stats":
                self._write(json.dumps(_figures(self.box[0])).encode())
            elif path == b"/reset":
                self.box[0] = HdrHistogram(1, 60_000_000, 3)
                self._write(b"reset")
            else:
                asyncio.get_running_loop().create_task(self._serve(time.perf_counter()))

    async def _serve(self, received: float) -> None:
        o = self.options
        delay = (o.delay_ms + random.uniform(0, o.jitter_ms)) / 1000
        if o.stall_every:
            into = (time.monotonic() - o.started) % o.stall_every
            if into < o.stall:
                delay = max(delay, o.stall - into)
        await asyncio.sleep(max(0.0, received + delay - time.perf_counter()))
        self._write(b"ok")
        self.box[0].record_value(max(1, int((time.perf_counter() - received) * 1e6)))

    def _write(self, body: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def _figures(hist: HdrHistogram) -> dict:
    return {"count": hist.get_total_count(),
            **{f"p{p}_ms": hist.get_value_at_percentile(p) / 1000 for p in (50, 95, 99)}}


def main() -> None:
    import uvloop

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--stall-every", type=float, default=0.0, help="seconds between stalls (0: none)")
    parser.add_argument("--stall", type=float, default=1.0, help="stall length in seconds")
    options = parser.parse_args()
    options.started = time.monotonic()
    box = [HdrHistogram(1, 60_000_000, 3)]

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: TimedServer(options, box), "127.0.0.1", options.port, backlog=4096)
        await server.serve_forever()

    uvloop.run(serve())


if __name__ == "__main__":
    main()
