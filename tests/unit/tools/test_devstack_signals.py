"""`make airflow` stops what it started on SIGINT, SIGTERM and SIGHUP: the signal unwinds every `finally`,
whether it was started from a terminal or as a background job (SIGINT inherited as ignored)."""

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# a child started inside stop_on_signals(), stopped in `finally` like the demo service and standalone
SCRIPT = """
import subprocess, sys, time
from tools.devstack import Stop, stop_on_signals
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
try:
    with stop_on_signals():
        try:
            print(child.pid, flush=True)
            time.sleep(60)
        finally:
            child.terminate(); child.wait(10)
except (KeyboardInterrupt, Stop):
    print("stopped", flush=True)
"""

# how SIGINT reaches the process: as from a terminal, or ignored as in `nohup make test &` or a CI runner
INHERITED = {"terminal": signal.SIG_DFL, "background": signal.SIG_IGN}


@pytest.mark.parametrize("started", INHERITED)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda sig: sig.name)
def test_each_signal_stops_what_was_started(sig, started):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, INHERITED[started]),
    )
    child = int(proc.stdout.readline())  # printed inside the block, after its handlers are set
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and out.strip() == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
