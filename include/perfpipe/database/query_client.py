"""The DB query client of the load engine: coroutine VUs (``loadtest.engine.vus``) that each own one psycopg
``AsyncConnection`` and run one weighted query per iteration, recorded into the engine's recorder as an
HTTP request is (class ``db``, name = the query's label, status ``OK`` or the SQLSTATE).

The load engine's load generator (``loadtest.engine.generator``) runs it (control loop, loop-lag probe,
abort rules, per-second sealing, drain, ``health()`` from ``loadtest/engine/health.py``, ``LoadResult``):
closed model (constant VUs, one connection each, queries back to back) or open model (constant arrival
rate, ``max_vus`` connections, latency from each arrival's intended start, an arrival finding every
connection busy dropped and counted).

``QuerySpec`` is the DB run's spec. It has no HTTP target, endpoints, allowlist or headers: the run reaches
one database through the DSN handed to the process (never stored in the spec, it may hold a password);
``target`` is that DSN redacted, for reports.
"""

from __future__ import annotations

import asyncio
import math
import random
from bisect import bisect
from dataclasses import asdict, dataclass, field
from time import perf_counter

import psycopg
from psycopg import AsyncConnection

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.contract import MODELS, Staged
from include.perfpipe.loadtest.engine.abort_rules import AbortRule, CircuitBreaker, stop_rules
from include.perfpipe.loadtest.engine.client import OK, RESTART
from include.perfpipe.loadtest.engine.generator import CONNECT_BACKOFF_S
from include.perfpipe.loadtest.engine.vus import CoroutineVUs
from include.perfpipe.loadtest.executors import ConstantArrivalRate, ConstantVUs, ExecutorConfig
from include.perfpipe.loadtest.executors.runs import executor_for
from include.perfpipe.metrics import DEFAULT_SCENARIO

from .connection import APPLICATION_NAME, redact

KLASS = "db"
KIND = "db"
CONNECT_CONCURRENCY = 10  # connections opened at once before the run
CONNECT_TIMEOUT_S = 10


def _positive(value, name: str, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value <= 0:
        expected = "an integer >= 1" if integer else "a number > 0"
        raise ConfigError(f"{name}: must be {expected}, got {value!r}")


def query_executor(connections: int, duration_s: float, rate: float | None = None) -> ExecutorConfig:
    """The executor of a DB run: ``rate`` queries/s in total is ``constant_arrival_rate`` (open model, at
    most ``connections`` at once), no rate ``constant_vus`` (closed model, ``connections`` VUs back to back)."""
    _positive(connections, "connections", integer=True)
    _positive(duration_s, "duration_s")
    if rate is None:
        return ConstantVUs(vus=connections, duration=duration_s)
    _positive(rate, "rate")
    return ConstantArrivalRate(rate=rate, duration=duration_s, max_vus=connections)


def with_connections(executor: ExecutorConfig, connections: int) -> ExecutorConfig:
    """``executor`` on ``connections`` connections (the cap's)."""
    key = "max_vus" if isinstance(executor, ConstantArrivalRate) else "vus"
    return executor.model_copy(update={key: connections})


@dataclass
class QuerySpec(Staged):
    """A DB query run, JSON-able (``to_dict``): the queries, the load plan of its executor and the session
    settings. The engine reads the fields of ``loadtest.engine.generator.EngineSpec``; ``connections`` is what was
    asked for, ``max_vus`` what the connection cap let the run open."""

    queries: list[dict]  # [{name, sql, weight}] (benchmark.normalise_queries)
    model: str
    start: float
    stages: list[dict]
    max_vus: int
    executor: str
    connections: int
    rate: float | None = None
    read_only: bool = True
    statement_timeout_s: float = 30.0
    target: str | None = None  # the DSN, password redacted
    database: str | None = None
    server_version: int | None = None
    profile: str | None = None
    kind: str = KIND
    abort_rules: list[AbortRule] = field(default_factory=list)  # normalised (AbortRule.normalised)
    circuit_breaker: CircuitBreaker | None = field(default_factory=CircuitBreaker)
    loop_lag_bound_ms: float = 50.0
    cpu_bound_percent: float = 95.0
    progress_interval_s: float = 5.0
    scenario: str = DEFAULT_SCENARIO
    tags: dict[str, str] = field(default_factory=dict)
    start_time_s: float = 0.0
    per_vu_iterations: int | None = None
    shared_iterations: int | None = None
    vu_offset: int = 0

    def __post_init__(self) -> None:
        if self.kind != KIND:
            raise ConfigError(f"kind: a QuerySpec is a DB run, kind {KIND!r}, got {self.kind!r}")
        if self.model not in MODELS:
            raise ConfigError(f"model: expected one of {MODELS}, got {self.model!r}")
        if not isinstance(self.queries, list) or not self.queries:
            raise ConfigError(f"queries: expected a list of at least one query, got {self.queries!r}")
        for i, q in enumerate(self.queries):
            if not isinstance(q, dict) or set(q) != {"name", "sql", "weight"}:
                raise ConfigError(f"queries[{i}]: expected {{name, sql, weight}} (normalise_queries), got {q!r}")
        _positive(self.max_vus, "max_vus", integer=True)
        if not isinstance(self.read_only, bool):
            raise ConfigError(f"read_only: expected true or false, got {self.read_only!r}")
        _positive(self.statement_timeout_s, "statement_timeout_s")
        # a spec rebuilt from its dict (``to_dict``) gets its typed rules back, as ``LoadSpec.from_dict`` does
        self.abort_rules, self.circuit_breaker = stop_rules(self.abort_rules, self.circuit_breaker)

    @classmethod
    def of(cls, executor: ExecutorConfig, queries: list[dict], connections: int, **settings) -> QuerySpec:
        """The spec of ``queries`` run as ``executor`` says (``query_executor``, ``with_connections``)."""
        plan = executor.plan()
        return cls(
            queries=queries,
            model=plan.model,
            start=plan.start,
            stages=list(plan.stages),
            max_vus=plan.max_vus,
            executor=executor.executor,
            connections=connections,
            rate=getattr(executor, "rate", None),
            per_vu_iterations=plan.per_vu_iterations,
            shared_iterations=plan.shared_iterations,
            **settings,
        )

    @property
    def timeout_s(self) -> float:
        """A query's own bound (the session's statement_timeout); the drain waits at most this long."""
        return self.statement_timeout_s

    def to_dict(self) -> dict:
        breaker = self.circuit_breaker
        return {
            **asdict(self),
            "abort_rules": [rule.model_dump() for rule in self.abort_rules],
            "circuit_breaker": None if breaker is None else breaker.model_dump(),
            "duration_s": self.duration_s,
        }


class QueryVU:
    """One virtual user: its connection and its own random pick of queries."""

    __slots__ = ("number", "iteration", "conn", "rng", "retired", "leaving", "pause")

    def __init__(self, number: int) -> None:
        self.number, self.iteration = number, 0
        self.conn: AsyncConnection | None = None
        self.rng = random.Random(number)
        self.retired = False
        self.leaving = False
        self.pause = None


async def open_session(dsn: str, read_only: bool, statement_timeout_s: float) -> AsyncConnection:
    """An autocommit benchmark connection with the run's statement_timeout and read-only default."""
    conn = await AsyncConnection.connect(
        dsn, autocommit=True, application_name=f"{APPLICATION_NAME}-bench", connect_timeout=CONNECT_TIMEOUT_S
    )
    try:
        await conn.execute(
            "SELECT set_config('statement_timeout', %s, false), set_config('default_transaction_read_only', %s, false)",
            [f"{int(statement_timeout_s * 1000)}ms", "on" if read_only else "off"],
        )
    except BaseException:
        await conn.close()
        raise
    return conn


class QueryGenerator(CoroutineVUs):
    """The DB client of both models. ``open_connections(n)`` opens connections before the run, which new
    VUs take; a VU without one (a connection failed to open, or was lost) connects on its next iteration."""

    unit = "q/s"
    sends = "queries"
    when_dropped = "raise connections or lower the rate"

    def __init__(self, spec: QuerySpec, dsn: str, index=0, count=1, progress=None, should_stop=None, on_abort=None):
        super().__init__(spec, index, count, progress, should_stop, on_abort)
        self.executor = executor_for(self)
        self.dsn = dsn
        self.names = [q["name"] for q in spec.queries]
        self.sql = [q["sql"] for q in spec.queries]
        weights = [q["weight"] for q in spec.queries]
        self.cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.spare: list[AsyncConnection] = []  # opened before the run, not yet taken by a VU
        self.conns: set[AsyncConnection] = set()  # every connection open now
        self.querying: set[QueryVU] = set()  # VUs with a query in flight
        self.opened = 0  # connections opened, before and during the run
        self.lost = 0  # connections that broke during the run
        self.unfinished: list[AsyncConnection] = []  # connections whose query the drain cut

    def pick(self, rng: random.Random) -> int:
        if len(self.cumulative) == 1:
            return 0
        return bisect(self.cumulative, rng.random() * self.cumulative[-1])

    async def connect(self) -> AsyncConnection:
        conn = await open_session(self.dsn, self.spec.read_only, self.spec.statement_timeout_s)
        self.conns.add(conn)
        self.opened += 1
        return conn

    async def open_connections(self, n: int) -> list[str]:
        """Open ``n`` connections for the VUs to take (at most ``CONNECT_CONCURRENCY`` at once); the errors of
        those that failed, redacted. None opened raises ``psycopg.OperationalError``."""
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        errors: list[str] = []

        async def one() -> None:
            async with gate:
                try:
                    self.spare.append(await self.connect())
                except psycopg.Error as exc:
                    errors.append(redact(self.dsn, str(exc).strip()))

        await asyncio.gather(*(one() for _ in range(n)))
        if not self.spare:
            raise psycopg.OperationalError(f"could not open any benchmark connection: {errors[:1]}")
        return errors

    async def close_connections(self) -> None:
        """Cancel the queries the drain cut, then close every connection."""
        await asyncio.gather(*(c.cancel_safe(timeout=2) for c in self.unfinished), return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self.conns), return_exceptions=True)
        self.conns.clear()
        self.spare.clear()

    # -- the VU ------------------------------------------------------------------------------------
    def new_vu(self, i: int) -> QueryVU:
        vu = QueryVU(self.vu_number(i))
        if self.spare:
            vu.conn = self.spare.pop()
        return vu

    def dropped_label(self) -> tuple[str, str]:
        return self.names[self.pick(random)], KLASS

    async def one_iteration(self, vu: QueryVU, start: float) -> str:
        """One weighted query, timed from ``start`` (closed model: from the send once connected)."""
        i = self.pick(vu.rng)
        name = self.names[i]
        conn = vu.conn
        if conn is None:
            try:
                conn = vu.conn = await self.connect()
            except psycopg.Error as exc:
                self.record(name, start, False, exc.sqlstate or "ConnectError")
                await asyncio.sleep(CONNECT_BACKOFF_S)
                return RESTART
            if self.spec.model == "closed":
                start = perf_counter()
        self.querying.add(vu)
        try:
            cur = await conn.execute(self.sql[i])
            if cur.description is not None:
                await cur.fetchall()
            ok, status = True, "OK"
        except psycopg.Error as exc:
            ok, status = False, exc.sqlstate or type(exc).__name__
        finally:
            self.querying.discard(vu)
        self.record(name, start, ok, status)
        vu.iteration += 1
        if conn.broken:
            self.lost += 1
            self.conns.discard(conn)
            vu.conn = None
            await conn.close()
        return OK if ok else RESTART

    def record(self, name: str, start: float, ok: bool, status: str) -> None:
        now = perf_counter()
        self.requests += 1
        if not ok:
            self.errors += 1
        self.rec.record(name, KLASS, now - start, ok, status, now - self.t0)

    async def leave_session(self, vu: QueryVU) -> None:
        conn, vu.conn = vu.conn, None
        if conn is not None:
            self.conns.discard(conn)
            await conn.close()

    # -- engine hooks ------------------------------------------------------------------------------
    def in_flight(self) -> int:
        return len(self.querying)

    def cut(self) -> None:
        self.unfinished = [vu.conn for vu in self.querying if vu.conn is not None]

    def client_reasons(self) -> list[str]:
        own = super().client_reasons()  # dropped queries, VUs that crashed
        if self.lost:
            own.append(f"{self.lost} connection(s) lost during the run")
        return own


def query_generator(spec: QuerySpec, dsn: str, progress=None, should_stop=None, on_abort=None) -> QueryGenerator:
    return QueryGenerator(spec, dsn, 0, 1, progress, should_stop, on_abort)
