"""A fake Airflow REST API on loopback for tools/release_gate.sh, and a runner of the script whose curl logs
every argv."""

import contextlib
import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import ROOT

PASSWORD, TOKEN = 'pa"ss\\wo rd$(x)', "tok-3f9a1c"
SCRIPT = Path(ROOT, "tools", "release_gate.sh")


class _FakeAirflow(BaseHTTPRequestHandler):
    """Logs in, triggers, answers one failed poll, then ``states`` in turn (the last one for ever)."""

    token_status = 201
    states = ("running", "success")
    verdict = "pass"

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/auth/token":
            self.server.logins.append(body)
            if self.token_status != 201:
                return self._send(self.token_status, {"detail": "Internal Server Error"})
            return self._send(201, {"access_token": TOKEN})
        assert self.headers["Authorization"] == f"Bearer {TOKEN}"
        return self._send(200, {"dag_run_id": "manual__1+00:00", "conf": body["conf"]})

    def do_GET(self):
        assert self.headers["Authorization"] == f"Bearer {TOKEN}"
        if self.path.endswith("/release_verdict"):
            return self._send(200, {"value": {"verdict": self.verdict}})
        self.server.polls += 1
        if self.server.polls == 1:
            return self._send(503, {"detail": "api-server restarting"})  # one failed poll
        return self._send(200, {"state": self.states[min(self.server.polls - 2, len(self.states) - 1)]})

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def fake_airflow(**behaviour):
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Airflow", (_FakeAirflow,), behaviour))
    server.logins, server.polls = [], 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def gate(url: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the script with a curl shim that logs every argv to ``tmp_path/argv.log``."""
    shim = tmp_path / "bin" / "curl"
    shim.parent.mkdir(exist_ok=True)
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {tmp_path / "argv.log"}\nexec {shutil.which("curl")} "$@"\n')
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shim.parent}:{os.environ['PATH']}",
        "AIRFLOW_URL": url,
        "AIRFLOW_USER": "ci",
        "AIRFLOW_PASSWORD": PASSWORD,
        "POLL_SECONDS": "0",
        **env,
    }
    return subprocess.run(["bash", str(SCRIPT), *(args or ["v1"])], env=env, capture_output=True, text=True, timeout=60)
