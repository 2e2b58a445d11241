"""tools/release_gate.sh against a fake Airflow REST API on loopback: the password (quotes and backslashes
in it) arrives intact as JSON, neither it nor the token reaches curl's argv, and one failed poll is retried."""

import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import ROOT

PASSWORD, TOKEN = 'pa"ss\\wo rd$(x)', "tok-3f9a1c"


class _FakeAirflow(BaseHTTPRequestHandler):
    polls = 0
    logins: list = []

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
            type(self).logins.append(body)
            return self._send(201, {"access_token": TOKEN})
        assert self.headers["Authorization"] == f"Bearer {TOKEN}"
        return self._send(200, {"dag_run_id": "manual__1+00:00", "conf": body["conf"]})

    def do_GET(self):
        assert self.headers["Authorization"] == f"Bearer {TOKEN}"
        if self.path.endswith("/release_verdict"):
            return self._send(200, {"value": {"verdict": "pass"}})
        type(self).polls += 1
        if type(self).polls == 1:
            return self._send(503, {"detail": "api-server restarting"})  # one failed poll
        return self._send(200, {"state": "running" if type(self).polls == 2 else "success"})

    def log_message(self, *args):
        pass


def test_release_gate_keeps_secrets_out_of_argv_escapes_json_and_retries_a_poll(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeAirflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    argv_log = tmp_path / "argv.log"
    shim = tmp_path / "bin" / "curl"  # logs every argv, then runs the real curl
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {argv_log}\nexec {shutil.which("curl")} "$@"\n')
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shim.parent}:{os.environ['PATH']}",
        "AIRFLOW_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "AIRFLOW_USER": "ci",
        "AIRFLOW_PASSWORD": PASSWORD,
        "POLL_SECONDS": "0",
    }
    try:
        done = subprocess.run(
            ["bash", str(Path(ROOT, "tools", "release_gate.sh")), 'v1 "quoted"'],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"verdict": "pass"}
    assert _FakeAirflow.logins == [{"username": "ci", "password": PASSWORD}]
    assert "1 in a row" in done.stderr and _FakeAirflow.polls == 3
    argv = argv_log.read_text()
    assert argv.count("\n") == 6 and PASSWORD not in argv and TOKEN not in argv
