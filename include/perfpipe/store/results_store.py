"""``ResultsStore``: the run history in PostgreSQL schema ``perfpipe`` (psycopg 3).

Writes are idempotent: ``save_run`` upserts by (dag_id, run_id); ``save_stage`` replaces every row
of its (dag_id, run_id, stage, map_index) key in one transaction, so a retried or re-run task
never doubles its results. Each call opens and closes its own connection.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.perfpipe.custom_metrics import METRIC_COLUMNS
from include.perfpipe.metrics import STATS_COLUMNS, TIMESERIES_COLUMNS
from include.perfpipe.store.migrations import apply_migrations
from include.perfpipe.store.rows import DATA_TABLES, stage_rows
from include.perfpipe.validation.verdict import parse_verdict
from include.perfpipe.vocabulary import NOT_BASELINE, libpq_dsn

log = logging.getLogger("perfpipe.store")
T = TypeVar("T")
# A write that loses its server (a restart, a failover, a dropped connection) is tried again after these
# pauses, 7.5 s in all (a fast restart takes 1-3 s; Airflow's task retries cover longer outages). Each
# write is idempotent (an upsert, a one-transaction replace): a retry never doubles an earlier attempt.
WRITE_RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)
CONNECT_TIMEOUT_S = 10  # an unreachable store fails (and is retried) after this, not libpq's ~2 min
STATEMENT_TIMEOUT_S = 120  # a write or migration queued behind a lock held elsewhere gives up after this

STAGES = ("loadtest", "database", "db_benchmark", "validation")
_JSON_COLUMNS = {"status_counts", "evidence", "tags"}
_RUN_FIELDS = (  # what a run row says of itself, in the history query's order
    "dag_id",
    "run_id",
    "profile",
    "target",
    "version",
    "started_at",
    "ended_at",
    "verdict",
    "reason",
    "report_url",
)
_RUN_COLUMNS = (*_RUN_FIELDS, "regression", "noise")
HISTORY_COLUMNS = [
    *_RUN_FIELDS,
    "is_baseline",
    "regression",
    "requests",
    "errors",
    "error_rate",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
]
_HISTORY_SQL = """
SELECT r.dag_id, r.run_id, r.profile, r.target, r.version, r.started_at, r.ended_at, r.verdict, r.reason,
       r.report_url, r.is_baseline, r.regression, h.requests, h.errors,
       CASE WHEN h.requests > 0 THEN h.errors::float8 / h.requests END AS error_rate,
       h.rps, h.p50_ms, h.p95_ms, h.p99_ms
FROM perfpipe.runs r
LEFT JOIN LATERAL (
    -- headline of the load test; shards saved under separate map indexes add up (latency: worst shard)
    SELECT sum(s.count)::bigint AS requests, sum(s.errors)::bigint AS errors, sum(s.rps) AS rps,
           max(s.p50_ms) AS p50_ms, max(s.p95_ms) AS p95_ms, max(s.p99_ms) AS p99_ms
    FROM perfpipe.endpoint_stats s
    WHERE s.dag_id = r.dag_id AND s.run_id = r.run_id AND s.stage = 'loadtest' AND s.scope = 'total'
) h ON true
"""
_SHAPE_JOIN = (  # the workload shape a run's load test recorded (rows.stage_rows), as column ``shape``
    " LEFT JOIN LATERAL (SELECT summary FROM perfpipe.stage_writes s WHERE s.dag_id = q.dag_id"
    " AND s.run_id = q.run_id AND s.stage = 'loadtest' ORDER BY s.map_index LIMIT 1) w ON true"
)
CLASS_HISTORY_COLUMNS = [
    "dag_id",
    "run_id",
    "started_at",
    "version",
    "verdict",
    "is_baseline",
    "regression",
    "class_name",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "rps",
    "error_rate",
]
_CLASS_HISTORY_SQL = """
WITH recent AS (
    SELECT dag_id, run_id, started_at, version, verdict, is_baseline, regression, updated_at FROM perfpipe.runs
    WHERE target = %(target)s AND profile = %(profile)s
      AND (%(before)s::timestamptz IS NULL OR started_at < %(before)s)
    ORDER BY started_at DESC NULLS LAST, updated_at DESC LIMIT %(limit)s
)
-- one row per run and class (class_name 'all' for the total); shards add up, latency is the worst shard's
SELECT r.dag_id, r.run_id, r.started_at, r.version, r.verdict, r.is_baseline, r.regression,
       CASE WHEN s.scope = 'total' THEN 'all' ELSE s.class_name END AS class_name,
       max(s.p50_ms) AS p50_ms, max(s.p95_ms) AS p95_ms, max(s.p99_ms) AS p99_ms, sum(s.rps) AS rps,
       CASE WHEN sum(s.count) > 0 THEN sum(s.errors)::float8 / sum(s.count) END AS error_rate
FROM recent r
JOIN perfpipe.endpoint_stats s ON s.dag_id = r.dag_id AND s.run_id = r.run_id AND s.stage = 'loadtest'
     AND s.scope IN ('class', 'total')
GROUP BY r.dag_id, r.run_id, r.started_at, r.version, r.verdict, r.is_baseline, r.regression, r.updated_at, 8
ORDER BY r.started_at NULLS FIRST, r.updated_at, 8
"""


def _text(value: Any, field: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    return value


def _timestamp(value: Any, field: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be an ISO 8601 timestamp, got {value!r}") from None


def _validate_run(run: dict) -> dict:
    if not isinstance(run, dict):
        raise ValueError(f"run must be a dict, got {type(run).__name__}")
    clean = {
        "dag_id": _text(run.get("dag_id"), "run.dag_id"),
        "run_id": _text(run.get("run_id"), "run.run_id"),
        "profile": _text(run.get("profile"), "run.profile"),
        "target": _text(run.get("target"), "run.target"),
        "version": _text(run.get("version"), "run.version", required=False),
        "started_at": _timestamp(run.get("started_at"), "run.started_at"),
        "ended_at": _timestamp(run.get("ended_at"), "run.ended_at"),
        "verdict": None if run.get("verdict") is None else parse_verdict(run["verdict"], "run.verdict").value,
        "reason": run.get("reason"),
        "report_url": run.get("report_url"),
        "regression": _text(run.get("regression"), "run.regression", required=False),
        "noise": _noise(run.get("noise")),
    }
    return clean


def _noise(value: Any) -> Jsonb | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"run.noise must be a dict, got {type(value).__name__}")
    return Jsonb(value)


def _key(dag_id: Any, run_id: Any, stage: Any, map_index: Any) -> tuple[str, str, str, int]:
    _text(dag_id, "dag_id")
    _text(run_id, "run_id")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    if isinstance(map_index, bool) or not isinstance(map_index, int) or map_index < -1:
        raise ValueError(f"map_index must be an integer >= -1, got {map_index!r}")
    return dag_id, run_id, stage, map_index


def _adapt(column: str, value: Any) -> Any:
    if column in _JSON_COLUMNS and value is not None:
        return Jsonb(json.loads(value) if isinstance(value, str) and column == "status_counts" else value)
    return value


class ResultsStore:
    """Results history; ``dsn`` is a libpq connection string or URL (a ``+driver`` suffix is dropped)."""

    def __init__(
        self, dsn: str, connect_timeout_s: int = CONNECT_TIMEOUT_S, statement_timeout_s: float = STATEMENT_TIMEOUT_S
    ) -> None:
        self.dsn = libpq_dsn(dsn)
        self.connect_timeout_s, self.statement_timeout_s = connect_timeout_s, statement_timeout_s

    def _connect(self) -> psycopg.Connection:
        """A connection that gives up after ``connect_timeout_s`` (an unreachable server) and whose statements
        give up after ``statement_timeout_s`` (a lock held elsewhere)."""
        return psycopg.connect(
            self.dsn,
            row_factory=dict_row,
            connect_timeout=self.connect_timeout_s,
            options=f"-c statement_timeout={int(self.statement_timeout_s * 1000)}",
        )

    def _retrying(self, what: str, write: Callable[[], T]) -> T:
        """``write()``, tried again after each of ``WRITE_RETRY_DELAYS_S`` when the server is lost
        (``psycopg.OperationalError``); the last failure is raised."""
        for delay in (*WRITE_RETRY_DELAYS_S, None):
            try:
                return write()
            except psycopg.OperationalError as exc:
                if delay is None:
                    raise
                first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                log.warning("results store: %s failed (%s); trying again in %g s", what, first_line, delay)
                time.sleep(delay)
        raise AssertionError("the last attempt returns or raises")

    def migrate(self) -> list[int]:
        """Apply pending migrations (idempotent, safe concurrently); returns versions applied now."""
        with self._connect() as conn:
            return apply_migrations(conn)

    def save_run(self, run: dict) -> None:
        """Insert or update the run row; ``is_baseline`` is left as it is."""
        row = _validate_run(run)
        cols = ", ".join(_RUN_COLUMNS)
        params = ", ".join(f"%({c})s" for c in _RUN_COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _RUN_COLUMNS[2:])
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO perfpipe.runs ({cols}) VALUES ({params}) "
                f"ON CONFLICT (dag_id, run_id) DO UPDATE SET {updates}, updated_at = now()",
                row,
            )

    def save_stage(
        self, dag_id: str, run_id: str, stage: str, map_index: int, bundle_part: dict, shape: dict | None = None
    ) -> dict[str, int]:
        """Replace the rows of one (dag_id, run_id, stage, map_index); returns rows written per table. ``shape``:
        a load test's workload shape, which later runs must match to be compared with it."""
        key = _key(dag_id, run_id, stage, map_index)
        tables, summary = stage_rows(stage, bundle_part, shape)
        key_sql = "dag_id = %s AND run_id = %s AND stage = %s AND map_index = %s"
        written = {}
        with self._connect() as conn, conn.transaction():
            # serialise concurrent writers of the same key so delete+insert can never interleave
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("|".join(map(str, key)),))
            for table in (*DATA_TABLES, "stage_writes"):
                conn.execute(f"DELETE FROM perfpipe.{table} WHERE {key_sql}", key)
            conn.execute(
                "INSERT INTO perfpipe.stage_writes (dag_id, run_id, stage, map_index, summary)"
                " VALUES (%s, %s, %s, %s, %s)",
                (*key, Jsonb(summary, dumps=lambda o: json.dumps(o, default=str))),
            )
            for table, rows in tables.items():
                if not rows:
                    written[table] = 0
                    continue
                columns = list(rows[0])
                sql = (
                    f"INSERT INTO perfpipe.{table} (dag_id, run_id, stage, map_index, {', '.join(columns)}) "
                    f"VALUES (%s, %s, %s, %s, {', '.join(['%s'] * len(columns))})"
                )
                with conn.cursor() as cur:
                    cur.executemany(sql, [(*key, *(_adapt(c, r[c]) for c in columns)) for r in rows])
                written[table] = len(rows)
        return written

    def history(
        self, target: str, profile: str, limit: int = 20, started_before: datetime | None = None
    ) -> pd.DataFrame:
        """The ``limit`` most recent runs of target/profile (that started before ``started_before`` when given),
        oldest first, with load-test headline stats."""
        with self._connect() as conn:
            rows = conn.execute(
                _HISTORY_SQL + " WHERE r.target = %s AND r.profile = %s "
                "AND (%s::timestamptz IS NULL OR r.started_at < %s) "
                "ORDER BY r.started_at DESC NULLS LAST, r.updated_at DESC LIMIT %s",
                (target, profile, started_before, started_before, limit),
            ).fetchall()
        return pd.DataFrame(list(reversed(rows)), columns=HISTORY_COLUMNS)

    def class_history(
        self, target: str, profile: str, limit: int = 20, started_before: datetime | None = None
    ) -> pd.DataFrame:
        """Per-class headline stats of the ``limit`` most recent runs of target/profile (that started before
        ``started_before`` when given), oldest first (long: one row per run and class, ``all`` for the total),
        for per-class trends and change points."""
        params = {"target": target, "profile": profile, "limit": limit, "before": started_before}
        with self._connect() as conn:
            rows = conn.execute(_CLASS_HISTORY_SQL, params).fetchall()
        return pd.DataFrame(rows, columns=CLASS_HISTORY_COLUMNS)

    def run_record(self, dag_id: str, run_id: str) -> dict | None:
        """One stored run: its history row (``HISTORY_COLUMNS``) with its workload ``shape``, None when absent."""
        with self._connect() as conn:
            return conn.execute(
                "SELECT q.*, w.summary->'shape' AS shape FROM ("
                + _HISTORY_SQL
                + " WHERE r.dag_id = %s AND r.run_id = %s) q "
                + _SHAPE_JOIN,
                (dag_id, run_id),
            ).fetchone()

    def list_runs(self, limit: int = 200) -> list[dict]:
        """The most recent runs of every target and profile, newest first (for the UI)."""
        with self._connect() as conn:
            return conn.execute(
                _HISTORY_SQL + " ORDER BY r.started_at DESC NULLS LAST, r.updated_at DESC LIMIT %s", (limit,)
            ).fetchall()

    def mark_baseline(self, dag_id: str, run_id: str) -> None:
        """Make this run the baseline of its target/profile (replacing any earlier one)."""
        with self._connect() as conn, conn.transaction():
            run = conn.execute(
                "SELECT target, profile FROM perfpipe.runs WHERE dag_id = %s AND run_id = %s FOR UPDATE",
                (dag_id, run_id),
            ).fetchone()
            if run is None:
                raise ValueError(f"no run with dag_id={dag_id!r} and run_id={run_id!r} in the results store")
            conn.execute(
                "UPDATE perfpipe.runs SET is_baseline = false WHERE target = %s AND profile = %s AND is_baseline",
                (run["target"], run["profile"]),
            )
            conn.execute(
                "UPDATE perfpipe.runs SET is_baseline = true WHERE dag_id = %s AND run_id = %s", (dag_id, run_id)
            )

    def baseline(self, target: str, profile: str, exclude: tuple[str, str] | None = None) -> dict | None:
        """The explicit baseline of target/profile, else its most recent passing run that the regression gate
        did not fail (``NOT_BASELINE``), else None.

        ``exclude`` is a (dag_id, run_id) never returned: the run being compared with its baseline.
        Whatever their workload; ``regression.baseline.find_baseline`` picks among runs of the same workload shape.
        """
        dag_id, run_id = exclude or ("", "")
        with self._connect() as conn:
            return conn.execute(
                _HISTORY_SQL + " WHERE r.target = %s AND r.profile = %s AND (r.is_baseline OR "
                "(r.verdict = 'pass' AND coalesce(r.regression, '') <> ALL(%s))) "
                "AND NOT (r.dag_id = %s AND r.run_id = %s) "
                "ORDER BY r.is_baseline DESC, r.started_at DESC NULLS LAST LIMIT 1",
                (target, profile, list(NOT_BASELINE), dag_id, run_id),
            ).fetchone()

    def baseline_candidates(
        self,
        target: str,
        profile: str,
        exclude: tuple[str, str],
        limit: int = 50,
        started_before: datetime | None = None,
    ) -> list[dict]:
        """Earlier runs of target/profile (that started before ``started_before`` when given), newest first (the
        marked baseline always among them), with their headline, load-test ``duration_s`` and workload ``shape``
        (None when not recorded)."""
        with self._connect() as conn:
            return conn.execute(
                "SELECT q.*, w.summary->'shape' AS shape, (w.summary->>'duration_s')::float8 AS duration_s FROM ("
                + _HISTORY_SQL
                + " WHERE r.target = %s AND r.profile = %s AND NOT (r.dag_id = %s AND r.run_id = %s) "
                "AND (%s::timestamptz IS NULL OR r.started_at < %s) "
                "ORDER BY r.is_baseline DESC, r.started_at DESC NULLS LAST LIMIT %s) q "
                + _SHAPE_JOIN
                + " ORDER BY q.started_at DESC NULLS LAST",
                (target, profile, *exclude, started_before, started_before, limit),
            ).fetchall()

    def save_bundle(
        self, bundle: dict, verdict: str, reason: str, *, shape: dict | None, report_url: str | None = None
    ) -> None:
        """Save a whole run bundle (each present stage under map index -1) and then its run row; each write is
        retried while the server is lost (``WRITE_RETRY_DELAYS_S``). ``shape``: the load test's workload shape
        (``regression.baseline.shape_of``; None without one), kept so that only runs of the same shape are
        compared."""
        run = bundle["run"]
        parts = {"loadtest": bundle.get("loadtest"), "validation": bundle.get("validation")}
        database = dict(bundle.get("database") or {})
        parts["db_benchmark"] = database.pop("benchmark", None)
        parts["database"] = database or None
        for stage, part in parts.items():
            if part:
                self._retrying(
                    f"saving stage {stage}",
                    lambda stage=stage, part=part: self.save_stage(
                        run["dag_id"], run["run_id"], stage, -1, part, shape if stage == "loadtest" else None
                    ),
                )
        section = bundle.get("regression") or {}
        row = {
            **run,
            "verdict": verdict,
            "reason": reason,
            "report_url": report_url or run.get("report_url"),
            "regression": (section.get("gate") or {}).get("status"),
            "noise": section.get("noise"),
        }
        self._retrying("saving the run", lambda: self.save_run(row))

    def run_frames(self, dag_id: str, run_id: str) -> dict | None:
        """``{"stats", "timeseries", "stages", "metrics"}`` of a stored load test (merged result, map index -1, if
        stored; else its first shard), the shape ``regression.compare_runs`` reads; None when absent."""
        with self._connect() as conn:
            ledger = conn.execute(
                "SELECT map_index, summary FROM perfpipe.stage_writes WHERE dag_id = %s AND run_id = %s "
                "AND stage = 'loadtest' ORDER BY map_index LIMIT 1",
                (dag_id, run_id),
            ).fetchone()
            if ledger is None:
                return None
            key = (dag_id, run_id, ledger["map_index"])
            where = "WHERE dag_id = %s AND run_id = %s AND stage = 'loadtest' AND map_index = %s"
            stats = conn.execute(f"SELECT * FROM perfpipe.endpoint_stats {where}", key).fetchall()
            series = conn.execute(f"SELECT * FROM perfpipe.timeseries {where} ORDER BY t, class_name", key).fetchall()
            metrics = conn.execute(f"SELECT * FROM perfpipe.custom_metrics {where} ORDER BY name", key).fetchall()
        stats_frame = pd.DataFrame(stats, columns=STATS_COLUMNS)
        stats_frame["status_counts"] = stats_frame["status_counts"].map(json.dumps)
        stats_frame["tags"] = stats_frame["tags"].map(lambda tags: json.dumps(tags, sort_keys=True))
        return {
            "stats": stats_frame,
            "timeseries": pd.DataFrame(series, columns=TIMESERIES_COLUMNS).astype({"t": int}),
            "stages": ledger["summary"].get("stages") or [],
            "metrics": pd.DataFrame(metrics, columns=METRIC_COLUMNS),
        }

    def stage_rows(self, dag_id: str, run_id: str, table: str) -> list[dict]:
        """Every stored row of one run in one data table (for reports and checks)."""
        if table not in (*DATA_TABLES, "stage_writes"):
            raise ValueError(f"table must be one of {(*DATA_TABLES, 'stage_writes')}, got {table!r}")
        with self._connect() as conn:
            return conn.execute(
                f"SELECT * FROM perfpipe.{table} WHERE dag_id = %s AND run_id = %s ORDER BY stage, map_index",
                (dag_id, run_id),
            ).fetchall()
