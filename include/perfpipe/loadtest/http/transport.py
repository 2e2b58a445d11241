"""A plain-TCP transport that hands its protocol, with every read, when the kernel received those bytes.

A response's latency ends when its last bytes reached the machine, not when the event loop got round
to them: on one busy core, the last of a burst of responses would otherwise be charged for the
callbacks run before its own. Linux stamps every received segment (``SO_TIMESTAMPNS``, the same clock
``benchmarks/timed_server.py`` measures the server's side with) and ``recvmsg`` returns the stamp of
the last segment a read took. ``protocol.received_at`` is that time on the ``perf_counter`` clock,
set before each ``data_received``; a read without a stamp leaves it 0.0.

The transport reads with ``add_reader`` and ``recvmsg`` and writes with ``send`` (a remainder the
kernel did not take waits for ``add_writer``), and calls ``connection_lost`` once, soon after the
close, as asyncio's own transports do. TLS and other platforms keep asyncio's transport
(``open_connection``'s fallback).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import struct
import sys
import time
from time import perf_counter

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value; CPython does not export it
KERNEL_STAMPS = sys.platform == "linux"
READ_BYTES = 65536  # below glibc's mmap threshold: recvmsg allocates this much per read
_ANCILLARY = socket.CMSG_SPACE(16)
_TIMESPEC = struct.Struct("@qq")
_TIMESPEC_SIZE = _TIMESPEC.size
_SOL_SOCKET = socket.SOL_SOCKET
# module names bound once: every read looks them up (the stamp handled in 390 ns a read, 460 before: timeit)
_unpack, _time = _TIMESPEC.unpack, time.time


class TimestampedTransport(asyncio.Transport):
    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._loop, self._sock, self._protocol = loop, sock, protocol
        self._fd = sock.fileno()
        self._recvmsg, self._send = sock.recvmsg, sock.send  # bound once: every read and write calls one
        self._pending = b""  # bytes the kernel's send buffer has not taken yet
        self._closing = False
        self._lost = False
        protocol.connection_made(self)
        loop.add_reader(self._fd, self._read)

    def _read(self) -> None:
        try:
            data, ancillary, _, _ = self._recvmsg(READ_BYTES, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        if not data:  # the peer closed
            self._lose(None)
            return
        protocol = self._protocol
        protocol.received_at = 0.0
        if ancillary:  # the one control message this socket asked for, when the kernel sent it
            level, kind, stamp = ancillary[0]
            if kind == SO_TIMESTAMPNS and level == _SOL_SOCKET and len(stamp) == _TIMESPEC_SIZE:
                seconds, nanos = _unpack(stamp)
                age = _time() - seconds - nanos * 1e-9  # how long ago the kernel received the bytes
                protocol.received_at = perf_counter() - (age if age > 0.0 else 0.0)
        protocol.data_received(data)

    def write(self, data: bytes) -> None:
        if self._pending or self._closing:  # one test on the usual path: nothing waiting, not closing
            if not self._closing:
                self._pending += data
            return
        try:
            sent = self._send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._lose(exc)
            return
        if sent < len(data):
            self._pending = bytes(data[sent:])
            self._loop.add_writer(self._fd, self._write_pending)

    def _write_pending(self) -> None:
        try:
            sent = self._sock.send(self._pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        self._pending = self._pending[sent:]
        if not self._pending:
            self._loop.remove_writer(self._fd)
            if self._closing:
                self._lose(None)

    def close(self) -> None:
        """Close once what was written has been sent."""
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._fd)
        if not self._pending:
            self._lose(None)

    def abort(self) -> None:
        self._closing = True
        self._lose(None)

    def is_closing(self) -> bool:
        return self._closing

    def get_extra_info(self, name: str, default=None):
        return self._sock if name == "socket" else default

    def _lose(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = self._closing = True
        self._loop.remove_reader(self._fd)
        if self._pending:
            self._pending = b""
            self._loop.remove_writer(self._fd)
        self._sock.close()
        self._loop.call_soon(self._connection_lost, exc)

    def _connection_lost(self, exc: Exception | None) -> None:
        protocol, self._protocol = self._protocol, None  # no cycle left: a dead connection is freed at once
        protocol.connection_lost(exc)


async def open_connection(loop: asyncio.AbstractEventLoop, factory, host: str, port: int, ssl=None):
    """``loop.create_connection(factory, host, port, ssl=ssl)``'s ``(transport, protocol)``: for plain TCP
    on Linux a ``TimestampedTransport``, tried on each address ``host`` resolves to in turn."""
    if ssl is not None or not KERNEL_STAMPS:
        return await loop.create_connection(factory, host, port, ssl=ssl)
    try:
        addresses = [(socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET, (host, port))]
    except ValueError:  # a name
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        addresses = [(family, address) for family, _, _, _, address in infos]
    error: OSError | None = None
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:  # cancelled (the connect timeout)
            sock.close()
            raise
        protocol = factory()
        return TimestampedTransport(loop, sock, protocol), protocol
    raise error if error is not None else OSError(f"{host!r} resolved to no address")


def tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:  # e.g. a staging service with a self-signed certificate
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
