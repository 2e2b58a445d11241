"""The CPU work of ``POST /tools/execute``, run in a process pool so it never holds the service's GIL.

Pure-Python hashing in a thread keeps the GIL for up to a switch interval at a time and stalls the event loop
(and so every other endpoint's latency); a separate process shares no GIL with the loop.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor


def burn_cpu(seconds: float) -> int:
    """Hash for ``seconds`` of wall time; returns the rounds done."""
    deadline = time.perf_counter() + seconds
    rounds, digest = 0, b"perfpipe"
    while time.perf_counter() < deadline:
        digest = hashlib.sha256(digest).digest()
        rounds += 1
    return rounds


def cpu_pool() -> ProcessPoolExecutor:
    """One worker per core, started by ``spawn`` (the service's threads and sockets are not forked) and
    warmed up here, so the first request does not pay for starting a process."""
    pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"))
    pool.submit(burn_cpu, 0).result(timeout=60)
    return pool
