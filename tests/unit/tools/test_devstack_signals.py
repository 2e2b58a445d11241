"""`make airflow` stops what it started on SIGINT, SIGTERM and SIGHUP: the signal unwinds every `finally`."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

# a child started inside stop_on_signals(), stopped in `finally` like the demo service and standalone
SCRIPT = """
import subprocess, sys, time
from tools.devstack import Stop, stop_on_signals
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
try:
    with stop_on_signals():
        try:
            time.sleep(60)
        finally:
            child.terminate(); child.wait(10)
except (KeyboardInterrupt, Stop):
    print("stopped", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_each_signal_stops_what_was_started(sig):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    time.sleep(0.5)  # inside the block
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and out.strip() == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
