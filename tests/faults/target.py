"""A fault-test target in its own process: the loopback test server (tests/unit/loadtest/server.py) on a
free 127.0.0.1 port, printed on the first stdout line; serves until it is killed (by PID).

Usage: python tests/faults/target.py
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.unit.loadtest.server import LoopbackServer

with LoopbackServer() as server:
    print(server.port, flush=True)
    while True:
        time.sleep(3600)
