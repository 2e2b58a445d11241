"""A small real CeleryExecutor cluster on this machine (``make cluster``, ``make cluster-stop``).

``python -m tools.cluster start``  metadata DB, Redis broker, demo service, scheduler, dag-processor,
                                   api-server and two Celery workers, all on loopback and free ports
``python -m tools.cluster stop``   stop every process it started (by PID, children included), delete its
                                   broker keys, drop its metadata database, and check that nothing is left

The metadata DB is a dedicated database on ``$PERFPIPE_DB_URL``'s server, else on the embedded
PostgreSQL. The broker is the Redis at ``$PERFPIPE_CLUSTER_REDIS_URL`` (a dedicated DB number), every
key under the cluster's own prefix. Worker ``w1`` serves the ``default`` and ``perfpipe_load`` queues,
``w2`` only ``perfpipe_load``, one task at a time each. Both keep their own local reports folder, like
separate machines, and publish to the shared ``PERFPIPE_REPORTS_URL``. The state file holds PIDs and
ports, never a secret: the fernet key and JWT secret live only in the processes' environment.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

from include.perfpipe import embedded_db
from tools.devstack import airflow_env, create_pools

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOME = ROOT / ".cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
LOAD_QUEUE = "perfpipe_load"
ADMIN_USER = "admin"
HOSTNAME_ENV = "PERFPIPE_WORKER_HOSTNAME"
START_TIMEOUT_S = 240


@dataclass(frozen=True)
class Worker:
    hostname: str
    queues: tuple[str, ...]
    concurrency: int = 1


WORKERS = (Worker("w1", ("default", LOAD_QUEUE)), Worker("w2", (LOAD_QUEUE,)))


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the cluster: each worker's own name, as two machines would have."""
    import socket

    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _state_file(home: Path) -> Path:
    return home / "state.json"


def _redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=5)


def broker_keys(redis_url: str, prefix: str) -> list[bytes]:
    """The broker's keys under the cluster's prefix."""
    return list(_redis(redis_url).scan_iter(match=f"{prefix}*", count=500))


def _admin_sql(server_url: str, statement: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL(statement).format(sql.Identifier(name)))


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def _sqlalchemy(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def _cluster_env(
    home: Path,
    *,
    meta_url: str,
    results_url: str,
    target_db_url: str,
    target_url: str,
    redis_url: str,
    key_prefix: str,
    api_port: int,
    reports_url: str,
) -> dict[str, str]:
    """What every cluster process shares; the secrets are made here and never written down."""
    airflow_home = home / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in airflow_env(results_url, target_db_url, target_url).items()
        if not k.startswith("AIRFLOW__") or k.startswith("AIRFLOW__CORE__")
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tools.cluster.worker_hostname",
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _sqlalchemy(meta_url),
            "AIRFLOW__CELERY__BROKER_URL": redis_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + _sqlalchemy(meta_url),
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": key_prefix,
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "PERFPIPE_REPORTS_URL": reports_url,
            "PERFPIPE_REPORTS_DIR": str(home / "api-server" / "reports"),
        }
    )
    return env


def _spawn(name: str, args: list[str], env: dict[str, str], logs: Path) -> dict:
    log = (logs / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.close()
    return {
        "name": name,
        "pid": proc.pid,
        "create_time": psutil.Process(proc.pid).create_time(),
        "log": str(logs / f"{name}.log"),
    }


def _wait_for(what: str, ready, procs: list[dict], deadline: float) -> None:
    while not ready():
        for proc in procs:
            if not alive(proc):
                raise RuntimeError(f"{proc['name']} exited during start-up; see {proc['log']}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{what} not ready in {START_TIMEOUT_S} s; see the logs in {Path(procs[0]['log']).parent}"
            )
        time.sleep(1)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def alive(proc: dict) -> bool:
    try:
        return psutil.Process(proc["pid"]).create_time() == proc["create_time"]
    except psutil.NoSuchProcess:
        return False


def start(
    home: Path = DEFAULT_HOME,
    *,
    db_server_url: str | None = None,
    results_url: str | None = None,
    target_db_url: str | None = None,
    redis_url: str | None = None,
    reports_url: str | None = None,
    name: str = "perfpipe_cluster",
) -> dict:
    """Start the cluster and return its state (also written to ``home/state.json``).

    ``db_server_url``: where the metadata database is created (default ``$PERFPIPE_DB_URL``, else the
    embedded PostgreSQL); the results and demo target databases default to devstack's.
    """
    home = Path(home).resolve()
    if _state_file(home).exists():
        raise SystemExit(f"a cluster already runs from {home} (state.json exists): run `make cluster-stop` first")
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    redis_url = redis_url or os.environ.get("PERFPIPE_CLUSTER_REDIS_URL", DEFAULT_REDIS_URL)
    key_prefix = f"{name}:"
    if broker_keys(redis_url, key_prefix):
        raise SystemExit(f"Redis {redis_url} already holds keys under {key_prefix!r}: another cluster uses it")
    state: dict = {
        "home": str(home),
        "name": name,
        "redis_url": redis_url,
        "key_prefix": key_prefix,
        "processes": [],
        "embedded_db": None,
    }
    write = lambda: _state_file(home).write_text(json.dumps(state, indent=2) + "\n")  # noqa: E731
    try:
        server_url = db_server_url or os.environ.get("PERFPIPE_DB_URL")
        if not server_url:
            data_dir = ROOT / ".pgdata"
            port = embedded_db.default_port(data_dir)
            if not embedded_db.is_running(port):
                state["embedded_db"] = str(data_dir)
            server_url = embedded_db.ensure_embedded_postgres(data_dir, port)
            target_db_url = target_db_url or embedded_db.dsn(port, "demo")
        meta_db = f"{name}_airflow"
        _admin_sql(server_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", meta_db)
        _admin_sql(server_url, "CREATE DATABASE {}", meta_db)
        state.update(db_server_url=server_url, meta_db=meta_db)
        write()
        results_url = results_url or server_url
        target_db_url = target_db_url or server_url

        demo_port = free_port()
        state["processes"].append(
            _spawn(
                "demo-service",
                [
                    sys.executable,
                    "-m",
                    "include.demo_service",
                    "--port",
                    str(demo_port),
                    "--db-url",
                    target_db_url,
                ],
                {**os.environ, "PYTHONPATH": str(ROOT)},
                logs,
            )
        )
        write()
        api_port = free_port()
        shared = home / "shared-reports"
        shared.mkdir(exist_ok=True)
        env = _cluster_env(
            home,
            meta_url=_with_database(server_url, meta_db),
            results_url=results_url,
            target_db_url=target_db_url,
            target_url=f"http://127.0.0.1:{demo_port}",
            redis_url=redis_url,
            key_prefix=key_prefix,
            api_port=api_port,
            reports_url=reports_url or shared.as_uri(),
        )
        airflow = str(Path(sys.executable).parent / "airflow")
        migrate = subprocess.run([airflow, "db", "migrate"], env=env, cwd=ROOT, capture_output=True, text=True)
        if migrate.returncode != 0:
            (logs / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
            raise RuntimeError(f"airflow db migrate failed; see {logs / 'db-migrate.log'}")
        load_slots = sum(w.concurrency for w in WORKERS if LOAD_QUEUE in w.queues)  # one run's shards together
        create_pools(airflow, env, home / "pools.json", load_slots=load_slots)
        for component, args in (
            ("api-server", ["api-server"]),
            ("scheduler", ["scheduler"]),
            ("dag-processor", ["dag-processor"]),
        ):
            state["processes"].append(_spawn(component, [airflow, *args], env, logs))
            write()
        for worker in WORKERS:
            worker_env = {
                **env,
                HOSTNAME_ENV: worker.hostname,
                "PERFPIPE_REPORTS_DIR": str(home / worker.hostname / "reports"),
            }
            state["processes"].append(
                _spawn(
                    f"worker-{worker.hostname}",
                    [
                        airflow,
                        "celery",
                        "worker",
                        "--celery-hostname",
                        worker.hostname,
                        "--queues",
                        ",".join(worker.queues),
                        "--concurrency",
                        str(worker.concurrency),
                        "--skip-serve-logs",
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    worker_env,
                    logs,
                )
            )
            write()
        state.update(
            api_url=f"http://127.0.0.1:{api_port}",
            target_url=f"http://127.0.0.1:{demo_port}",
            reports_url=env["PERFPIPE_REPORTS_URL"],
            user=ADMIN_USER,
            passwords_file=str(home / "airflow" / "simple_auth_manager_passwords.json.generated"),
            workers=[{"hostname": w.hostname, "queues": list(w.queues), "concurrency": w.concurrency} for w in WORKERS],
        )
        write()
        deadline = time.monotonic() + START_TIMEOUT_S
        _wait_for("the demo service", lambda: _http_ok(f"{state['target_url']}/health"), state["processes"], deadline)
        _wait_for(
            "the api-server",
            lambda: _http_ok(f"{state['api_url']}/api/v2/monitor/health"),
            state["processes"],
            deadline,
        )
        for worker in WORKERS:
            log = logs / f"worker-{worker.hostname}.log"
            _wait_for(
                f"worker {worker.hostname}",
                lambda log=log: b" ready." in log.read_bytes(),
                state["processes"],
                deadline,
            )
        return state
    except BaseException:
        stop(home)
        raise


def _terminate(procs: list[dict], timeout: float = 30) -> list[int]:
    """SIGTERM each process and its descendants, SIGKILL what is left after ``timeout``; returns PIDs still alive."""
    targets: dict[int, psutil.Process] = {}
    for entry in procs:
        if not alive(entry):
            continue
        proc = psutil.Process(entry["pid"])
        for p in [proc, *proc.children(recursive=True)]:
            targets[p.pid] = p
    for p in targets.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGTERM)
    _, remaining = psutil.wait_procs(list(targets.values()), timeout=timeout)
    for p in remaining:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    _, remaining = psutil.wait_procs(remaining, timeout=10)
    return [p.pid for p in remaining]


def stop(home: Path = DEFAULT_HOME) -> dict:
    """Stop what ``start`` started; returns what is left.

    ``{"pids": [...], "broker_keys": n}``, both empty when clean.
    """
    home = Path(home).resolve()
    path = _state_file(home)
    if not path.exists():
        return {"pids": [], "broker_keys": 0, "note": f"no cluster state in {home}"}
    state = json.loads(path.read_text())
    # the workers first, so no task is left half-run by a scheduler that went away
    order = sorted(state["processes"], key=lambda p: (not p["name"].startswith("worker-"), p["name"] == "demo-service"))
    left_pids = _terminate([p for p in order if p["name"].startswith("worker-")])
    left_pids += _terminate([p for p in order if not p["name"].startswith("worker-")])
    redis = _redis(state["redis_url"])
    keys = broker_keys(state["redis_url"], state["key_prefix"])
    if keys:
        redis.delete(*keys)
    left_keys = len(broker_keys(state["redis_url"], state["key_prefix"]))
    if state.get("meta_db"):
        _admin_sql(state["db_server_url"], "DROP DATABASE IF EXISTS {} WITH (FORCE)", state["meta_db"])
    if state.get("embedded_db"):
        embedded_db.stop_embedded_postgres(Path(state["embedded_db"]))
    path.unlink()
    return {"pids": left_pids, "broker_keys": left_keys}


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.cluster", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="state, logs and reports (default .cluster/)")
    args = parser.parse_args()
    if args.command == "stop":
        left = stop(args.home)
        if left["pids"] or left["broker_keys"]:
            print(f"perfpipe cluster: still running: PIDs {left['pids']}; broker keys left: {left['broker_keys']}")
            return 1
        print(left.get("note") or "perfpipe cluster: stopped; no process and no broker key left")
        return 0
    state = start(args.home)
    print(
        f"perfpipe cluster: Airflow (CeleryExecutor) on {state['api_url']}, user {state['user']}, password in "
        f"{state['passwords_file']}"
    )
    print(
        f"perfpipe cluster: workers {', '.join(w['hostname'] + ' ' + '+'.join(w['queues']) for w in state['workers'])};"
        f" demo target {state['target_url']}; reports in {state['reports_url']}"
    )
    print(f"perfpipe cluster: logs in {Path(state['home']) / 'logs'}; stop it with `make cluster-stop`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
