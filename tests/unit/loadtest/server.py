"""A tiny HTTP/1.1 test server on 127.0.0.1 (port 0) in a background thread, counting what it serves.

Paths: ``/ok``; ``/sleep/<ms>``; ``/status/<code>``; ``/chunked``; ``/close`` (Connection: close);
``/stall`` (answers at once, except that every request arriving during a stall window waits until
the window ends: ``stall_every_s`` / ``stall_s``, measured from the server start);
``/frame/<case>``: a case of ``framing`` as raw bytes (hostile and until-close ones then close);
``/endless/headers``, ``/endless/body``, ``/endless/trailers`` (valid heads, then never-ending
headers, body or trailers) and ``/endless/slow`` (a valid response, one byte a second);
``/redirect?status=302&to=URL`` (a redirect to URL), ``/loop`` (a redirect to itself);
``/set-cookie/<name>/<value>`` (sets it, Path=/), ``/cookies`` (answers the request's Cookie value);
``/gzip`` (``{"word": "hello"}`` gzip-encoded), ``/gzip-bomb/<MB>`` (MB megabytes of zeros gzip-encoded,
about a thousandth of that on the wire). ``hits`` counts the requests per path (no query),
``targets`` per path and query. ``/hostile`` (``HOSTILE_BODY``: HTML, script and template syntax).
Any path answers 401 to a request that lacks one of the ``require_headers`` lines ("Name: value").
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

from benchmarks.hostile import gzip_bomb
from tests.unit.loadtest.framing import HOSTILE, UNTIL_CLOSE, VALID

ENDLESS_PIECE = b"x" * 65536
ENDLESS_HEADS = {  # what comes before the endless part (headers: nothing)
    "body": b"Content-Length: 100000000000\r\n\r\n",
    "trailers": b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
}
HOSTILE_BODY = b"</script><script>alert('body')</script><img src=x onerror=alert(1)>{{ 7 * 7 }}\"; --"


class LoopbackServer:
    def __init__(
        self,
        stall_every_s: float = 10.0,
        stall_s: float = 1.0,
        stall_offset_s: float = 0.0,
        ssl_context=None,
        require_headers: tuple[str, ...] = (),
    ) -> None:
        self.requests = 0
        self.hits: Counter[str] = Counter()
        self.targets: Counter[str] = Counter()  # per path with its query
        self.require_headers = [line.encode().lower() for line in require_headers]  # else 401
        self.last_head = b""  # the latest request's line and headers
        self.unauthorised = 0  # requests answered 401 (a require_headers line missing)
        self.answering = self.peak_answering = 0  # requests being answered now, and the most at once
        self.ssl_context = ssl_context
        self.stall_every_s, self.stall_s, self.stall_offset_s = stall_every_s, stall_s, stall_offset_s
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0
        self.started = 0.0

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(5)

    def url(self, path: str) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        self.started = time.monotonic()
        self._ready.set()
        await self._stop.wait()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                self.requests += 1
                self.last_head = head
                path = head.split(b" ")[1].decode()
                self.hits[path.partition("?")[0]] += 1
                self.targets[path] += 1
                self.answering += 1
                self.peak_answering = max(self.peak_answering, self.answering)
                try:
                    if not await self._respond(path, writer, head, body):
                        break
                finally:
                    self.answering -= 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _authorised(self, head: bytes) -> bool:
        lines = head.lower().split(b"\r\n")
        return all(required in lines for required in self.require_headers)

    async def _respond(self, path: str, writer: asyncio.StreamWriter, head: bytes, body: bytes) -> bool:
        status, body, close, extra = 200, b"ok", False, ""
        if not self._authorised(head):
            status, self.unauthorised = 401, self.unauthorised + 1
        elif path.startswith("/sleep/"):
            await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
        elif path == "/stall":
            into = (time.monotonic() - self.started - self.stall_offset_s) % self.stall_every_s
            if into < self.stall_s:
                await asyncio.sleep(self.stall_s - into)
        elif path == "/chunked":
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
            )
            await writer.drain()
            return True
        elif path == "/close":
            close = True
        elif path.startswith("/redirect?"):
            query = parse_qs(urlsplit(path).query)
            status, extra = int(query.get("status", ["302"])[0]), f"Location: {query['to'][0]}\r\n"
        elif path == "/loop":
            status, extra = 302, "Location: /loop\r\n"
        elif path.startswith("/set-cookie/"):
            name, value = path.split("/")[2:4]
            extra = f"Set-Cookie: {name}={value}; Path=/\r\n"
        elif path == "/cookies":
            lines = [line for line in head.split(b"\r\n") if line.lower().startswith(b"cookie:")]
            body = b"|".join(line.partition(b":")[2].strip() for line in lines)
        elif path == "/gzip":
            body, extra = (
                gzip.compress(b'{"word": "hello"}'),
                "Content-Encoding: gzip\r\nContent-Type: application/json\r\n",
            )
        elif path.startswith("/gzip-bomb/"):
            body, extra = gzip_bomb(int(path.rsplit("/", 1)[1])), "Content-Encoding: gzip\r\n"
        elif path == "/hostile":
            body = HOSTILE_BODY
        elif path.startswith("/frame/"):
            name = path.rsplit("/", 1)[1]
            raw = (VALID.get(name) or UNTIL_CLOSE.get(name) or HOSTILE[name])[0]
            writer.write(raw)
            await writer.drain()
            return name in VALID and b"close" not in raw.lower()
        elif path.startswith("/endless/"):
            await self._endless(path.rsplit("/", 1)[1], writer)
            return False
        headers = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}"
        if close:
            headers += "Connection: close\r\n"
        writer.write(headers.encode() + b"\r\n" + body)
        await writer.drain()
        return not close

    async def _endless(self, kind: str, writer: asyncio.StreamWriter) -> None:
        """Stream forever (until the client goes away) a head, a body or a response byte by byte."""
        if kind == "slow":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1.0)
            return
        writer.write(b"HTTP/1.1 200 OK\r\n" + ENDLESS_HEADS.get(kind, b""))
        piece = ENDLESS_PIECE if kind == "body" else b"X-Endless: " + b"y" * 1000 + b"\r\n"
        while not writer.is_closing():
            writer.write(piece)
            await writer.drain()
