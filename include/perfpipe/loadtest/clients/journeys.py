"""Journeys on the engine: the HTTP client of the coroutine VUs (``loadtest.engine.vus``). Each iteration of a
VU is a task running its session (YAML steps compiled by ``journey/``, or a Python journey) over its own
keep-alive connection, through the load generator's recorder, timeouts, allowlist, abort rules and health checks.

The executor says when iterations run (``loadtest.executors``). Closed model: the profile's VUs each run
setup, then iterations. Open model: each arrival is one iteration by an idle VU (a new VU, up to
``max_vus``, runs its setup first); with every VU busy the iteration is dropped and counted. Teardown runs
once per VU that ran setup, when it leaves: ramped down, stopped, or at the end of the run (duration over,
abort, stop signal) within the drain time.
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter

from include.perfpipe.custom_metrics import CustomMetrics
from include.perfpipe.loadtest.clients.http_generator import HttpGenerator
from include.perfpipe.loadtest.engine.client import ENDED, OK, RESTART, STOP, UNSTARTED
from include.perfpipe.loadtest.engine.generator import CONNECT_BACKOFF_S
from include.perfpipe.loadtest.engine.vus import CoroutineVUs
from include.perfpipe.loadtest.http.connection import HttpConnection
from include.perfpipe.loadtest.http.credentials import unless_set
from include.perfpipe.loadtest.http.framing import PreparedRequest
from include.perfpipe.loadtest.http.headers import DEFAULT_HEADERS
from include.perfpipe.loadtest.http.target import split_url
from include.perfpipe.loadtest.journey.answer import Answer
from include.perfpipe.loadtest.journey.compiled import CompiledStep, compiled_journey
from include.perfpipe.loadtest.journey.feeders import Feeder, FeederExhausted
from include.perfpipe.loadtest.journey.metric_feeds import SKIP
from include.perfpipe.loadtest.journey.models import ScenarioFile
from include.perfpipe.loadtest.journey.python_request import HeaderBase
from include.perfpipe.loadtest.journey.python_vu import PythonVU, RequestFailed, TestEnded
from include.perfpipe.loadtest.journey.session import Exchange, Session
from include.perfpipe.loadtest.journey.stats import JourneyStats
from include.perfpipe.loadtest.journey.template import TemplateError
from include.perfpipe.loadtest.result import LoadResult
from include.perfpipe.vocabulary import holds

log = logging.getLogger("perfpipe.loadtest")


def scenario_metrics(scenario: ScenarioFile) -> tuple[CustomMetrics, dict[str, list[str]]]:
    """The scenario's custom metrics, empty, and which trends each group's duration feeds."""
    declared = scenario.metrics
    metrics = CustomMetrics({n: m.type for n, m in declared.items()}, {n: m.unit for n, m in declared.items()})
    group_trends: dict[str, list[str]] = {}
    for name, metric in declared.items():
        if metric.group is not None:
            group_trends.setdefault(metric.group, []).append(name)
    return metrics, group_trends


class JourneyGenerator(CoroutineVUs, HttpGenerator):
    """The journey client of both models: sending a step for a session, and running setup, steps and teardown."""

    def __init__(self, spec, index=0, count=1, progress=None, should_stop=None, on_abort=None, secret_headers=None):
        super().__init__(spec, index, count, progress, should_stop, on_abort, secret_headers=secret_headers)
        scenario = spec.journey
        compiled = compiled_journey(scenario, spec.target, spec.scenario)  # the plan's, when it ran in this process
        self.feeders = {
            name: (config.per, Feeder(compiled.rows[name], config.strategy, config.when_exhausted, index, count))
            for name, config in scenario.feeders.items()
        }
        self.python = compiled.python
        self.journey = None if self.python else compiled.with_credentials(self.secret_headers)
        self.pacing_s = self.journey.pacing_s if self.journey else 0.0
        self.variables = self.journey.variables if self.journey else {}
        self.headers = dict(scenario.headers)
        self.base_url = spec.target.rstrip("/")  # a Python journey's paths are under it
        # a Python journey's requests to the target's own origin carry its credentials, others not
        self.target_origin = split_url(spec.target)
        secrets = unless_set(self.secret_headers, self.headers)
        self.header_base = HeaderBase({**DEFAULT_HEADERS, **secrets, **self.headers})
        self.foreign_header_base = HeaderBase({**DEFAULT_HEADERS, **self.headers})
        self.stats = JourneyStats(*scenario_metrics(scenario))
        self.abort_limits = [
            (name, limit)
            for name, metric in scenario.metrics.items()
            for limit in metric.thresholds.values()
            if limit.abort_on_fail
        ]
        for step in self.journey.all_steps if self.journey else []:
            self.rec.label(step.name, step.group, {**spec.tags, **step.tags})
        self.allowed_origins: set[tuple] = set()  # (scheme, host, port) a Python journey may reach
        self.logged_kinds: set[str] = set()  # the kinds of unsendable request already logged

    def breached_metrics(self, second: int) -> str | None:
        metrics = self.stats.metrics
        for name, limit in self.abort_limits:
            if second < limit.abort_delay_s:
                continue
            observed = metrics.stat(name, limit.stat, second)
            if observed == observed and not holds(limit.operator, observed, limit.limit):
                return (
                    f"abort_on_fail: metric {name} {limit.stat} was {observed:.4g} at {second} s, "
                    f"breaking '{limit.operator} {limit.limit:g}' (suite metrics)"
                )
        return None

    def progress_extra(self) -> dict:
        return {"metrics": self.stats.metrics.snapshot()} if self.stats.metrics.metrics else {}

    async def run(self, t0_epoch: float) -> LoadResult:
        result = await super().run(t0_epoch)
        result.journey = self.stats
        return result

    # -- connection callbacks ----------------------------------------------------------------------
    def record_response(self, conn: HttpConnection, status: int, body: bytes | None) -> None:
        """Judged by the session's exchange in flight; a kept body as an ``Answer``."""
        exchange = conn.vu.exchange
        request = conn.request
        exchange.evaluate(status, None if body is None else Answer(status, conn.headers, body, request.request))
        step = exchange.step
        if step is not None and step.checks:
            failed = exchange.checks_failed
            self.rec.record_checks(request.name, request.class_name, len(step.checks) - failed, failed)
        self.record_answer(conn, exchange.ok, exchange.label or status)

    def follow(self, conn: HttpConnection, hop: PreparedRequest) -> None:
        """The session's exchange sends the hop next (on a connection to its host), timed from the first send."""
        conn.vu.exchange.hop = hop
        self.after(conn)

    def failed(self, conn: HttpConnection, error: str) -> None:
        conn.vu.exchange.label = error
        super().failed(conn, error)

    def after(self, conn: HttpConnection) -> None:
        session = conn.vu
        waiter = session.waiter if session is not None else None
        if waiter is not None and not waiter.done():
            session.waiter = None
            waiter.set_result(None)

    # -- one request -------------------------------------------------------------------------------
    async def exchange(self, session: Session, exchange: Exchange) -> bool:
        """Send ``exchange``'s request on the session's connection (opening one when needed), and each
        redirect hop after it; True when the final answer is ok. Latency runs from the first send."""
        start = perf_counter()
        session.exchange = exchange
        while True:
            request, conn = exchange.request, session.conn
            if conn is None or conn.closed or conn.origin != (request.host, request.port):
                if conn is not None:
                    conn.close()
                session.conn = None
                self.connecting += 1
                try:
                    conn = await self.connect(request, session.cookies)
                except (TimeoutError, OSError) as exc:
                    exchange.label = "ConnectTimeout" if isinstance(exc, asyncio.TimeoutError) else "ConnectError"
                    self.record_error(request.name, request.class_name, start, exchange.label)
                    await asyncio.sleep(CONNECT_BACKOFF_S)
                    return False
                finally:
                    self.connecting -= 1
                conn.vu, session.conn = session, conn
                if self.over(session):
                    conn.close()
                    return False
            waiter = session.waiter = self.loop.create_future()
            conn.send(request, start)
            await waiter
            if exchange.hop is None:
                return exchange.ok
            exchange.request, exchange.hop = exchange.hop, None

    def unsendable(self, name: str, class_name: str, error: TemplateError, where: str) -> None:
        """Request ``name`` could not be built: a failed request whose status names why (``TemplateError``,
        ``EncodeError``), logged once per kind."""
        kind = type(error).__name__
        self.record_error(name, class_name, perf_counter(), kind)
        if kind not in self.logged_kinds:
            self.logged_kinds.add(kind)
            log.warning("%s: %s (a failed request of status %s; later ones are not logged)", where, error, kind)

    async def send_step(self, session: Session, step: CompiledStep) -> bool:
        try:
            raw = step.request.build(session)
        except TemplateError as exc:
            self.unsendable(step.name, step.class_name, exc, step.where)
            return False
        request = PreparedRequest(
            step.name,
            step.class_name,
            raw,
            step.host,
            step.port,
            self.tls(step.scheme),
            step.model,
            step.keep_body,
            self.spec.max_body_bytes,
        )
        exchange = Exchange(request, step.expect, step, session, self.stats.checks)
        if not step.feeds:
            return await self.exchange(session, exchange)
        start = perf_counter()
        ok = await self.exchange(session, exchange)
        self.feed_metrics(step, exchange, ok, start)
        return ok

    def feed_metrics(self, step: CompiledStep, exchange: Exchange, ok: bool, start: float) -> None:
        now = perf_counter()
        answer = exchange.answer if exchange.answer is not None else Answer(0)
        metrics = self.stats.metrics
        for feed in step.feeds:
            value = feed.sample(answer, ok, now - start)
            if value is not SKIP:
                metrics.add(feed.metric, value, now - self.t0)

    # -- a session's life --------------------------------------------------------------------------
    def new_vu(self, i: int) -> Session:
        return Session(self.vu_number(i), self.variables, self.new_jar())

    def enter(self, session: Session) -> bool:
        return self.draw(session, "vu")

    def vu_stopped(self, session: Session) -> None:
        self.stats.stopped_vus += 1

    def dropped_label(self) -> tuple[str, str]:
        first = self.journey.steps[0] if self.journey else None
        return (first.name, first.class_name) if first else ("iteration", "api")

    def draw(self, session: Session, per: str) -> bool:
        """New rows of the feeders drawn ``per`` vu or iteration; False when a feeder ran out. A Python
        journey draws rows only when it asks (``vu.feed``)."""
        if self.python is not None:
            return True
        for name, (when, feeder) in self.feeders.items():
            if when == per:
                try:
                    session.rows[name] = feeder.next_row()
                except FeederExhausted:
                    return False
        return True

    async def run_steps(self, session: Session, steps: list[CompiledStep], first: bool = False) -> str:
        """The steps in turn; ``first``: they begin the iteration (the run ending before them is UNSTARTED)."""
        for step in steps:
            if self.over(session):
                return UNSTARTED if first else ENDED
            first = False
            ok = await self.send_step(session, step)
            if step.think is not None and not self.over(session):
                await self.pause(session, step.think())
            if not ok and step.on_failure != "continue":
                return RESTART if step.on_failure == "restart" else STOP
        return OK

    async def run_yaml(self, session: Session) -> str:
        """One iteration (after setup, when the session has not done it yet); OK, RESTART, STOP or ENDED."""
        first = True
        if not session.ready:
            outcome = await self.run_steps(session, self.journey.setup, first)
            if outcome != OK:
                return outcome
            session.ready, first = True, not self.journey.setup
        if not self.draw(session, "iteration"):
            return STOP
        steps = [self.journey.pick()] if self.journey.weights else self.journey.steps
        outcome = await self.run_steps(session, steps, first)
        if outcome == UNSTARTED:
            return outcome
        if outcome == OK:
            self.stats.iterations += 1
        elif outcome == RESTART:
            self.stats.failed_iterations += 1
        session.iteration += 1
        return outcome

    async def leave_session(self, session: Session) -> None:
        """Teardown, once, when the VU ran setup; then close its connection."""
        if session.ready and not session.leaving and self.journey is not None and self.journey.teardown:
            session.leaving = True
            await self.run_steps(session, self.journey.teardown)
        if session.conn is not None:
            session.conn.close()

    async def run_python(self, session: Session) -> str:
        vu = PythonVU(self, session)
        try:
            await self.python(vu)
        except TestEnded:
            return ENDED if vu.began else UNSTARTED
        except FeederExhausted:
            return STOP
        except Exception as exc:
            if session.told_ended:  # it swallowed TestEnded and failed later on: its end, not an error
                return ENDED
            name = "RequestFailed" if isinstance(exc, RequestFailed) else type(exc).__name__
            if name not in self.stats.errors:
                log.warning("journey %s raised %s: %s", self.spec.journey.python, name, exc)
            self.stats.errors[name] += 1
            self.stats.failed_iterations += 1
            session.iteration += 1
            return RESTART
        self.stats.iterations += 1
        session.iteration += 1
        return OK

    def one_iteration(self, session: Session, start: float):
        return self.run_python(session) if self.python is not None else self.run_yaml(session)


def journey_generator(
    spec, index=0, count=1, progress=None, should_stop=None, on_abort=None, secret_headers=None
) -> JourneyGenerator:
    return JourneyGenerator(spec, index, count, progress, should_stop, on_abort, secret_headers)
