"""Local stack for the README commands: database, demo service and Airflow wired together.

``python -m tools.devstack demo``     run the perf_smoke DAG once against the demo service (``make demo``)
``python -m tools.devstack airflow``  serve ``airflow standalone`` on :8080 with the same wiring (``make airflow``)

The database is ``$PERFPIPE_DB_URL`` when set, else an embedded PostgreSQL started here and stopped
on exit, like the demo service: nothing keeps running after the command ends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from include.perfpipe import embedded_db
from include.pipelines.pools import pools_json

ROOT = Path(__file__).resolve().parents[1]
DEMO_PORT = int(os.environ.get("PERFPIPE_DEMO_PORT", "8000"))


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@contextlib.contextmanager
def databases():
    """Yield (results DB URL, demo target DB URL); an embedded cluster lives only inside the block."""
    url = os.environ.get("PERFPIPE_DB_URL")
    if url:
        yield url, url
        return
    data_dir = ROOT / ".pgdata"
    port = embedded_db.default_port(data_dir)
    was_running = embedded_db.is_running(port)
    results = embedded_db.ensure_embedded_postgres(data_dir, port)
    try:
        yield results, embedded_db.dsn(port, "demo")
    finally:
        if not was_running:
            embedded_db.stop_embedded_postgres(data_dir)


@contextlib.contextmanager
def demo_service(db_url: str, port: int = DEMO_PORT):
    """Run the demo service in a child process until the block ends; yield its base URL."""
    if not _port_free(port):
        raise SystemExit(f"port {port} is taken: stop what runs there or set PERFPIPE_DEMO_PORT")
    base_url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "include.demo_service", "--port", str(port), "--db-url", db_url],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the demo service exited with code {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the demo service did not become healthy within 60 s")
            time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()  # uvicorn stops as on Ctrl-C; SIGINT may be ignored in a background job
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def airflow_env(results_db: str, target_db: str, target_url: str) -> dict[str, str]:
    """Environment for the airflow CLI: project folders, and the three connections the DAGs use."""
    home = ROOT / ".airflow"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
        ),  # standalone spawns `airflow`
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",  # a laptop-sized LocalExecutor; load tests want the cores
        "AIRFLOW_CONN_PERF_TARGET_HTTP": target_url,
        "AIRFLOW_CONN_PERF_TARGET_DB": target_db,
        "AIRFLOW_CONN_PERF_RESULTS_DB": results_db,
        "PERFPIPE_REPORTS_DIR": os.environ.get("PERFPIPE_REPORTS_DIR", str(ROOT / "reports")),
    }


def _airflow(env: dict[str, str], *args: str) -> int:
    return subprocess.call([str(Path(sys.executable).parent / "airflow"), *args], env=env, cwd=ROOT)


def create_pools(airflow: str, env: dict[str, str], path: Path, load_slots: int = 1) -> None:
    """Create (or resize) the perfpipe pools in the metadata DB with ``airflow pools import``: the DAGs'
    load and maintenance tasks stay queued until their pool exists."""
    path.write_text(pools_json(load_slots=load_slots) + "\n")
    done = subprocess.run([airflow, "pools", "import", str(path)], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"airflow pools import {path} failed: {(done.stdout + done.stderr)[-2000:]}")


def run_demo(dag_id: str, conf: dict) -> int:
    with databases() as (results_db, target_db), demo_service(target_db) as target_url:
        env = airflow_env(results_db, target_db, target_url)
        if _airflow(env, "db", "migrate") != 0:
            raise SystemExit("airflow db migrate failed")
        started = time.time()
        code = _airflow(env, "dags", "test", dag_id, "--conf", json.dumps(conf))
    summaries = [
        p for p in (Path(env["PERFPIPE_REPORTS_DIR"]) / dag_id).glob("*/summary.json") if p.stat().st_mtime >= started
    ]
    if not summaries:
        print(f"\nperfpipe: {dag_id} produced no report (airflow exited {code}); see the log above.")
        return code or 1
    summary = max(summaries, key=lambda p: p.stat().st_mtime)
    verdict = json.loads(summary.read_text())["verdict"]
    print(f"\nperfpipe: {dag_id} verdict {verdict['verdict'].upper()}: {verdict['reason']}")
    print(f"perfpipe: report {summary.parent / 'report.html'}")
    return code


class Stop(Exception):
    """SIGTERM or SIGHUP: unwind like Ctrl-C, so every ``finally`` stops what it started."""


@contextlib.contextmanager
def stop_on_signals():
    """Inside the block SIGINT raises KeyboardInterrupt, and SIGTERM and SIGHUP raise ``Stop``.

    SIGINT gets its handler here too: a job started in the background (``make airflow &``, nohup, a CI
    runner) inherits SIGINT as ignored, and Python then installs no KeyboardInterrupt handler of its own.
    """

    def raise_stop(signum, _frame):
        raise Stop(signal.Signals(signum).name)

    handlers = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: raise_stop, signal.SIGHUP: raise_stop}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_airflow() -> int:
    """Serve ``airflow standalone`` until it exits or we get SIGINT, SIGTERM or SIGHUP; then stop its process
    group (scheduler, API server, task runners), the demo service and the embedded database."""
    try:
        with stop_on_signals(), databases() as (results_db, target_db), demo_service(target_db) as target_url:
            env = {**airflow_env(results_db, target_db, target_url), "AIRFLOW__API__HOST": "127.0.0.1"}
            airflow = str(Path(sys.executable).parent / "airflow")
            if _airflow(env, "db", "migrate") != 0:
                raise SystemExit("airflow db migrate failed")
            create_pools(airflow, env, Path(env["AIRFLOW_HOME"]) / "pools.json")
            print("perfpipe: Airflow on http://127.0.0.1:8080 (the admin password is printed below); Ctrl-C stops all.")
            standalone = subprocess.Popen([airflow, "standalone"], env=env, cwd=ROOT, start_new_session=True)
            try:
                return standalone.wait()
            finally:
                if standalone.poll() is None:  # stop the scheduler, API server and the rest with it
                    os.killpg(standalone.pid, signal.SIGTERM)
                    try:
                        standalone.wait(30)
                    except subprocess.TimeoutExpired:
                        os.killpg(standalone.pid, signal.SIGKILL)
    except (KeyboardInterrupt, Stop) as stop:
        print(f"perfpipe: stopped ({stop or 'SIGINT'}); everything it started is stopped")
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.devstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a pipeline DAG once with `airflow dags test`")
    demo.add_argument("--dag", default="perf_smoke")
    demo.add_argument("--conf", default="{}", help="JSON run configuration (the DAG's Params)")
    sub.add_parser("airflow", help="serve airflow standalone on :8080")
    args = parser.parse_args()
    if args.command == "demo":
        return run_demo(args.dag, json.loads(args.conf))
    return run_airflow()


if __name__ == "__main__":
    sys.exit(main())
