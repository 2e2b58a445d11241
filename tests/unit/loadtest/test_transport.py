"""The plain-TCP transport that stamps each read with the kernel's receive time."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
import weakref
from time import perf_counter

import pytest
import uvloop

from include.perfpipe.loadtest.http.transport import KERNEL_STAMPS, TimestampedTransport, open_connection

pytestmark = pytest.mark.skipif(not KERNEL_STAMPS, reason="kernel receive stamps are Linux's")
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Peer:
    """A blocking loopback peer on a thread: answers each read with ``reply``, keeps what it read,
    and closes after ``close_after`` reads."""

    def __init__(self, reply: bytes = RESPONSE, close_after: int | None = None, read_delay_s: float = 0.0):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.reply, self.close_after, self.read_delay_s = reply, close_after, read_delay_s
        self.read = bytearray()
        self.replies = 0  # replies sent
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        reads = 0
        with conn:
            while data := conn.recv(65536):
                self.read += data
                reads += 1
                time.sleep(self.read_delay_s)
                if self.reply:
                    conn.sendall(self.reply)
                    self.replies += 1
                if self.close_after is not None and reads >= self.close_after:
                    return


class Recorder(asyncio.Protocol):
    def __init__(self):
        self.received_at = 0.0
        self.reads: list[tuple[float, float, bytes]] = []  # (received_at, when the loop handed it over, data)
        self.lost: list[Exception | None] = []
        self.got = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.reads.append((self.received_at, perf_counter(), data))
        if not self.got.done():
            self.got.set_result(None)

    def connection_lost(self, exc) -> None:
        self.lost.append(exc)


def _run(coro):
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def test_a_response_the_loop_reads_late_is_stamped_when_the_kernel_received_it():
    peer, request = Peer(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"

    async def answered(protocol, reads: int) -> tuple[float, float, bytes]:
        while len(protocol.reads) < reads:
            await asyncio.sleep(0.001)
        return protocol.reads[-1]

    async def exchange():
        loop = asyncio.get_running_loop()
        transport, protocol = await open_connection(loop, Recorder, "127.0.0.1", peer.port)
        assert isinstance(transport, TimestampedTransport)
        # Linux turns receive stamps on in deferred work once a first socket asks: on a busy machine the first
        # answers can come before it ran (seen: unstamped at load 12). Ask until one is stamped (the first,
        # on a quiet machine).
        for asked in range(1, 200):
            transport.write(request)
            if (await answered(protocol, asked))[0]:
                break
            await asyncio.sleep(0.01)
        sent = perf_counter()
        transport.write(request)
        deadline = sent + 30
        while peer.replies <= asked and perf_counter() < deadline:  # the loop is busy while the answer comes,
            time.sleep(0.001)  # however late the peer's thread gets the CPU to send it, and 0.2 s after
        time.sleep(0.2)
        read = await answered(protocol, asked + 1)
        transport.close()
        return sent, read

    sent, (received_at, handed_over, data) = _run(exchange())
    assert data == RESPONSE
    assert sent < received_at < handed_over - 0.15  # the stamp says when it came, not when the loop saw it


def test_a_write_the_kernel_cannot_take_at_once_is_sent_whole_and_in_order():
    peer = Peer(reply=b"", read_delay_s=0.001)
    payload = bytes(range(256)) * 40_000  # 10 MB: more than the socket buffers hold

    async def send():
        loop = asyncio.get_running_loop()
        transport, protocol = await open_connection(loop, Recorder, "127.0.0.1", peer.port)
        transport.write(payload[:1000])
        transport.write(payload[1000:])
        transport.close()  # closes once everything is sent
        while not protocol.lost:
            await asyncio.sleep(0.01)
        return protocol.lost

    assert _run(send()) == [None]
    peer.thread.join(timeout=30)
    assert bytes(peer.read) == payload


def test_connection_lost_comes_once_after_the_call_that_closed_and_when_the_peer_closes():
    peer = Peer(close_after=1)

    async def lifecycle():
        loop = asyncio.get_running_loop()
        transport, protocol = await open_connection(loop, Recorder, "127.0.0.1", peer.port)
        transport.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await protocol.got
        for _ in range(100):  # the peer closes after its answer
            if protocol.lost:
                break
            await asyncio.sleep(0.01)
        by_peer = list(protocol.lost)
        transport.close()
        transport.abort()
        await asyncio.sleep(0.01)
        second, aborted = await open_connection(loop, Recorder, "127.0.0.1", Peer().port)
        second.abort()
        during_abort = list(aborted.lost)
        await asyncio.sleep(0.01)
        return by_peer, protocol.lost, during_abort, aborted.lost

    by_peer, after_closes, during_abort, after_abort = _run(lifecycle())
    assert by_peer == [None] and after_closes == [None]  # the peer's close, and nothing more for ours
    assert during_abort == [] and after_abort == [None]  # soon after the call, not inside it


def test_a_refused_connect_raises_and_a_name_resolves():
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    peer = Peer()

    async def connects():
        loop = asyncio.get_running_loop()
        with pytest.raises(ConnectionRefusedError):
            await open_connection(loop, Recorder, "127.0.0.1", port)
        transport, _ = await open_connection(loop, Recorder, "localhost", peer.port)
        transport.close()
        return transport

    assert isinstance(_run(connects()), TimestampedTransport)


def test_a_closed_connection_is_freed_without_the_collector():
    peer = Peer()

    async def close_one():
        transport, protocol = await open_connection(asyncio.get_running_loop(), Recorder, "127.0.0.1", peer.port)
        protocol.transport = transport  # as HttpConnection holds its transport
        gone = weakref.ref(protocol)
        transport.close()
        del transport, protocol
        await asyncio.sleep(0.01)
        return gone

    gc.disable()
    try:
        gone = _run(close_one())
        assert gone() is None
    finally:
        gc.enable()
