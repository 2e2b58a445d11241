"""``AbortSignal``: the shards of one run stop together through the row ``perfpipe.run_aborts``.

The shard whose abort rules trip calls ``raise_abort(reason, shard)``. Every shard runs a watcher, a
daemon thread that polls the run's row about once a second and then sets ``aborted``, so
``should_stop()`` (which the load engine calls every tick) reads a flag and never waits on the
database. A database error is logged and never reaches the load test: until the database answers
again, the shard simply keeps to its own abort rules.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from include.perfpipe.store.clock import best_sample
from include.perfpipe.store.migrations import apply_migrations
from include.perfpipe.vocabulary import libpq_dsn

log = logging.getLogger("perfpipe.store")
POLL_INTERVAL_S = 1.0
CONNECT_TIMEOUT_S = 5

# The first reason of an attempt wins; a row older than ``since`` (an earlier attempt) is replaced.
_RAISE_SQL = """
INSERT INTO perfpipe.run_aborts (dag_id, run_id, reason, shard) VALUES (%s, %s, %s, %s)
ON CONFLICT (dag_id, run_id) DO UPDATE SET reason = EXCLUDED.reason, shard = EXCLUDED.shard, at = EXCLUDED.at
WHERE perfpipe.run_aborts.at < to_timestamp(%s)
"""
_POLL_SQL = """
SELECT shard, reason FROM perfpipe.run_aborts WHERE dag_id = %s AND run_id = %s AND at >= to_timestamp(%s)
"""


class AbortSignal:
    """The abort flag that the shards of run (``dag_id``, ``run_id``) share; a context manager
    around the watcher thread.

    ``since`` (epoch seconds; the DAG passes the run's common ``start_at``): a row raised before it
    belongs to an earlier attempt of the run (a DAG run cleared and run again), so it is ignored,
    and replaced by the next ``raise_abort``. Rows are stamped by the database's ``now()``, so ``since``
    is moved onto the database's clock (this machine's offset, measured once) before it is compared.
    """

    def __init__(
        self, dsn: str, dag_id: str, run_id: str, since: float = 0.0, poll_interval_s: float = POLL_INTERVAL_S
    ) -> None:
        self.dsn = libpq_dsn(dsn)
        self.dag_id, self.run_id, self.since = dag_id, run_id, since
        self.poll_interval_s = poll_interval_s
        self.aborted = threading.Event()
        self.reason: str | None = None
        self._closing = threading.Event()
        self._db_since: float | None = None
        self._watcher = threading.Thread(target=self._watch, name=f"abort-signal {run_id}", daemon=True)

    def __enter__(self) -> AbortSignal:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> AbortSignal:
        """Start watching the run's row."""
        self._watcher.start()
        return self

    def stop(self) -> None:
        """End the watcher (waiting at most one connect timeout for a query in flight)."""
        self._closing.set()
        self._watcher.join(timeout=CONNECT_TIMEOUT_S + self.poll_interval_s)

    def should_stop(self) -> str | None:
        """``"stopped: shard N aborted: <reason>"`` once a shard of the run has aborted, else None."""
        return self.reason if self.aborted.is_set() else None

    def raise_abort(self, reason: str, shard: int) -> bool:
        """Record that ``shard`` aborted: the first reason wins, a repeat (a retried task) changes
        nothing. Returns False, and logs why, when the database could not be written."""
        try:
            with self._connect() as conn:
                conn.execute(_RAISE_SQL, (self.dag_id, self.run_id, reason, shard, self._since_on_db_clock(conn)))
            return True
        except Exception as exc:
            log.error(
                "could not tell the other shards of %s/%s to stop (%s): they keep to their own abort rules",
                self.dag_id,
                self.run_id,
                exc,
            )
            return False

    def _since_on_db_clock(self, conn: psycopg.Connection) -> float:
        """``since`` as the database's clock read it at that moment (offset measured on first use)."""
        if self._db_since is None:
            samples = []
            for _ in range(3):
                sent = time.time()
                (server,) = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
                samples.append((sent, float(server), time.time()))
            self._db_since = self.since + best_sample(samples).offset_ms / 1000
        return self._db_since

    def _connect(self) -> psycopg.Connection:
        """A connection to a results database whose schema is up to date."""
        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        try:
            apply_migrations(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _watch(self) -> None:
        conn, failing = None, False
        try:
            while not self._closing.is_set():
                try:
                    if conn is None:
                        conn = self._connect()
                    row = conn.execute(_POLL_SQL, (self.dag_id, self.run_id, self._since_on_db_clock(conn))).fetchone()
                except Exception as exc:
                    if not failing:
                        log.warning(
                            "abort signal of %s/%s: results database unavailable (%s); polling on, this "
                            "shard keeps to its own abort rules meanwhile",
                            self.dag_id,
                            self.run_id,
                            exc,
                        )
                    failing = True
                    _close(conn)
                    conn = None
                else:
                    if failing:
                        log.info("abort signal of %s/%s: results database back", self.dag_id, self.run_id)
                    failing = False
                    if row is not None:
                        self._seen(*row)
                        return
                self._closing.wait(self.poll_interval_s)
        finally:
            _close(conn)

    def _seen(self, shard: int, reason: str) -> None:
        self.reason = f"stopped: shard {shard} aborted: {reason}"
        log.warning("abort signal of %s/%s: shard %s aborted: %s", self.dag_id, self.run_id, shard, reason)
        self.aborted.set()


def _close(conn: psycopg.Connection | None) -> None:
    if conn is not None:
        conn.close()
