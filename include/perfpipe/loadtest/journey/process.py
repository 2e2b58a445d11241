"""Journeys on the engine: every VU is a task running its session over its own keep-alive
connection, through the generator process's recorder, timeouts, allowlist, abort rules and health checks.

Closed model: the profile's VUs each run setup, then iterations. Open model: each arrival is one
iteration by an idle VU (a new VU, up to ``max_vus``, runs its setup first); with every VU busy the
iteration is dropped and counted. Teardown runs once per VU that ran setup, when it leaves: ramped
down, stopped, or at the end of the run (duration over, abort, stop signal) within the drain time.
"""

from __future__ import annotations

import asyncio
import logging
import math
from time import perf_counter

from include.perfpipe.custom_metrics import CustomMetrics
from include.perfpipe.loadtest.connection import DEFAULT_HEADERS, HttpConnection
from include.perfpipe.loadtest.engine import CONNECT_BACKOFF_S, ArrivalSchedule, GeneratorProcess, drain_s, share
from include.perfpipe.loadtest.executors.shared_iterations import part_iterations
from include.perfpipe.loadtest.journey.answer import Answer
from include.perfpipe.loadtest.journey.compiled import CompiledJourney, CompiledStep, resolve_function
from include.perfpipe.loadtest.journey.feeders import Feeder, FeederExhausted
from include.perfpipe.loadtest.journey.metric_feeds import SKIP
from include.perfpipe.loadtest.journey.models import ScenarioFile
from include.perfpipe.loadtest.journey.python_request import HeaderBase
from include.perfpipe.loadtest.journey.python_vu import PythonVU, RequestFailed, TestEnded
from include.perfpipe.loadtest.journey.scenario import feeder_columns, feeder_rows
from include.perfpipe.loadtest.journey.session import Exchange, Session
from include.perfpipe.loadtest.journey.stats import JourneyStats
from include.perfpipe.loadtest.journey.template import TemplateError
from include.perfpipe.loadtest.result import LoadResult
from include.perfpipe.metrics import DEFAULT_SCENARIO
from include.perfpipe.vocabulary import holds

log = logging.getLogger("perfpipe.loadtest")
OK, RESTART, STOP, ENDED = "ok", "restart", "stop", "ended"


def scenario_metrics(scenario: ScenarioFile) -> tuple[CustomMetrics, dict[str, list[str]]]:
    """The scenario's custom metrics, empty, and which trends each group's duration feeds."""
    declared = scenario.metrics
    metrics = CustomMetrics({n: m.type for n, m in declared.items()}, {n: m.unit for n, m in declared.items()})
    group_trends: dict[str, list[str]] = {}
    for name, metric in declared.items():
        if metric.group is not None:
            group_trends.setdefault(metric.group, []).append(name)
    return metrics, group_trends


class JourneyProcess(GeneratorProcess):
    """What both models share: sending a step for a session, and running setup, steps and teardown."""

    def __init__(self, spec, index=0, count=1, progress=None, should_stop=None, on_abort=None, secret_headers=None):
        super().__init__(spec, index, count, progress, should_stop, on_abort, secret_headers)
        scenario = ScenarioFile.model_validate(spec.journey)
        own = {name.lower() for name in scenario.headers}  # a header the scenario sets itself wins
        secrets = {name: value for name, value in self.secret_headers.items() if name.lower() not in own}
        scenario = scenario.model_copy(update={"headers": {**secrets, **scenario.headers}})
        rows = feeder_rows(scenario)
        self.feeders = {
            name: (config.per, Feeder(rows[name], config.strategy, config.when_exhausted, index, count))
            for name, config in scenario.feeders.items()
        }
        self.python = resolve_function(scenario.python, "journey") if scenario.python else None
        self.journey = None if self.python else CompiledJourney(scenario, spec.target, feeder_columns(rows))
        self.variables = self.journey.variables if self.journey else {}
        self.headers = dict(scenario.headers)
        self.base_url = spec.target.rstrip("/")  # a Python journey's paths are under it
        self.header_base = HeaderBase({**DEFAULT_HEADERS, **self.headers})
        self.stats = JourneyStats(*scenario_metrics(scenario))
        self.abort_limits = [
            (name, limit)
            for name, metric in scenario.metrics.items()
            for limit in metric.thresholds.values()
            if limit.abort_on_fail
        ]
        for step in self.journey.all_steps if self.journey else []:
            self.rec.label(step.name, step.group, {**spec.tags, **step.tags})
            if spec.scenario != DEFAULT_SCENARIO:  # check rows stay apart across scenarios
                for rule in step.checks:
                    rule.key = f"{spec.scenario}: {rule.key}"
        self.allowed_origins: set[tuple] = set()  # (scheme, host, port) a Python journey may reach
        self.alive: set[Session] = set()  # sessions whose task runs
        self.teardown_by = math.inf  # when teardowns at the end of the run are cut

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
    def record_response(self, conn: HttpConnection, status: int, response) -> None:
        exchange = conn.endpoint
        exchange.evaluate(status, response)
        step = exchange.step
        if step is not None and step.checks:
            failed = exchange.checks_failed
            self.rec.record_checks(exchange.name, exchange.class_name, len(step.checks) - failed, failed)
        super().record_response(conn, exchange.label or status, response)

    def follow(self, conn: HttpConnection, hop) -> None:
        """``exchange`` sends the hop next (on a connection to its host), timed from the first send."""
        conn.endpoint.hop = hop
        self.after(conn)

    def failed(self, conn: HttpConnection, error: str) -> None:
        conn.endpoint.label = error
        super().failed(conn, error)

    def after(self, conn: HttpConnection) -> None:
        session = conn.vu
        waiter = session.waiter if session is not None else None
        if waiter is not None and not waiter.done():
            session.waiter = None
            waiter.set_result(None)

    # -- one request -------------------------------------------------------------------------------
    def over(self, session: Session) -> bool:
        """Whether the session must send nothing more (its teardown: only once the drain time is up)."""
        if session.leaving:
            return perf_counter() >= self.teardown_by
        return session.retired or self.stopping or perf_counter() >= self.t_end

    async def pause(self, session: Session, seconds: float) -> None:
        """Think time or pacing; none once the run has ended, and the end wakes a session that pauses."""
        if self.stopping:
            return
        waiter = session.pause = self.loop.create_future()
        timer = self.loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            session.pause = None

    async def exchange(self, session: Session, exchange: Exchange) -> bool:
        """Send ``exchange`` on the session's connection (opening one when needed), and each redirect
        hop after it; True when the final answer is ok. Latency runs from the first send."""
        start = perf_counter()
        while True:
            conn = session.conn
            if conn is None or conn.closed or conn.origin != (exchange.host, exchange.port):
                if conn is not None:
                    conn.close()
                session.conn = None
                self.connecting += 1
                try:
                    conn = await self.connect(exchange, session.cookies)
                except (TimeoutError, OSError) as exc:
                    exchange.label = "ConnectTimeout" if isinstance(exc, asyncio.TimeoutError) else "ConnectError"
                    self.record_error(exchange, start, exchange.label)
                    await asyncio.sleep(CONNECT_BACKOFF_S)
                    return False
                finally:
                    self.connecting -= 1
                conn.vu, session.conn = session, conn
                if self.over(session):
                    conn.close()
                    return False
            waiter = session.waiter = self.loop.create_future()
            conn.send(exchange, start)
            await waiter
            if exchange.hop is None:
                return exchange.ok
            exchange.move_to(exchange.hop)

    async def send_step(self, session: Session, step: CompiledStep) -> bool:
        try:
            raw = step.request.build(session)
        except TemplateError as exc:
            self.record_error(step, perf_counter(), "TemplateError")
            log.debug("%s: %s", step.where, exc)
            return False
        exchange = Exchange(
            step.name,
            step.class_name,
            raw,
            step.host,
            step.port,
            self.tls(step.scheme),
            step.model,
            step.expect,
            step.no_body,
            step.keep_body,
            self.spec.max_body_bytes,
            step,
            session,
            self.stats.checks,
        )
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
    def new_session(self, i: int) -> Session:
        """This part's ``i``-th VU; numbers 1..N are unique across parts: part p holds p+1, p+1+count, ..."""
        return Session(self.spec.vu_offset + self.index + self.count * i + 1, self.variables, self.new_jar())

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

    async def run_steps(self, session: Session, steps: list[CompiledStep]) -> str:
        for step in steps:
            if self.over(session):
                return ENDED
            ok = await self.send_step(session, step)
            if step.think is not None and not self.over(session):
                await self.pause(session, step.think())
            if not ok and step.on_failure != "continue":
                return RESTART if step.on_failure == "restart" else STOP
        return OK

    async def iterate(self, session: Session) -> str:
        """One iteration (after setup, when the session has not done it yet); OK, RESTART, STOP or ENDED."""
        if not session.ready:
            outcome = await self.run_steps(session, self.journey.setup)
            if outcome != OK:
                return outcome
            session.ready = True
        if not self.draw(session, "iteration"):
            return STOP
        steps = [self.journey.pick()] if self.journey.weights else self.journey.steps
        outcome = await self.run_steps(session, steps)
        if outcome == OK:
            self.stats.iterations += 1
        elif outcome == RESTART:
            self.stats.failed_iterations += 1
        session.iteration += 1
        return outcome

    async def leave(self, session: Session) -> None:
        """Teardown, once, when the VU ran setup; then close its connection."""
        session.running = False
        if session.ready and not session.leaving and self.journey is not None and self.journey.teardown:
            session.leaving = True
            await self.run_steps(session, self.journey.teardown)
        if session.conn is not None:
            session.conn.close()

    def spawn_session(self, session: Session, life) -> None:
        """Run ``life`` (a coroutine driving ``session``) as a task, the session counted in ``alive`` till it ends."""
        self.alive.add(session)
        self.spawn(self._alive_while(session, life))

    async def _alive_while(self, session: Session, life) -> None:
        try:
            await life
        finally:
            self.alive.discard(session)

    def end_sessions(self) -> None:
        """Model hook at the end of the run: start the teardown of sessions no task drives."""

    async def drain(self, give_up: float | None = None) -> None:
        """At the end of the run: requests in flight finish, pausing sessions wake, and every VU that ran
        setup runs its teardown, all within the drain time; then what is left is cut."""
        give_up = self.teardown_by = perf_counter() + drain_s(self.spec)
        self.end_sessions()
        for session in self.alive:
            if session.pause is not None:
                _wake(session.pause)
        while self.alive and perf_counter() < give_up:
            await asyncio.sleep(0.02)
        await super().drain(give_up)

    async def run_python(self, session: Session) -> str:
        vu = PythonVU(self, session)
        try:
            await self.python(vu)
        except TestEnded:
            return ENDED
        except FeederExhausted:
            return STOP
        except Exception as exc:
            name = "RequestFailed" if isinstance(exc, RequestFailed) else type(exc).__name__
            if name not in self.stats.errors:
                log.warning("journey %s raised %s: %s", self.spec.journey["journey"], name, exc)
            self.stats.errors[name] += 1
            self.stats.failed_iterations += 1
            session.iteration += 1
            return RESTART
        self.stats.iterations += 1
        session.iteration += 1
        return OK

    def one_iteration(self, session: Session):
        return self.run_python(session) if self.python is not None else self.iterate(session)


class ClosedJourneyProcess(JourneyProcess):
    """Closed model: each VU runs its journey until the test ends, it is ramped down, or it stops."""

    def begin(self) -> None:
        self.vus: list[Session] = []
        spec = self.spec
        self.budgeted = spec.per_vu_iterations is not None or spec.shared_iterations is not None
        self.pool = (
            part_iterations(spec.shared_iterations, spec.max_vus, self.index, self.count)
            if spec.shared_iterations is not None
            else None
        )
        self.adjust(0.0)

    def take_iteration(self, session: Session) -> bool:
        """Whether the session may start another iteration (per-VU or shared iterations left)."""
        if self.pool is not None:
            if self.pool <= 0:
                return False
            self.pool -= 1
            return True
        per_vu = self.spec.per_vu_iterations
        return per_vu is None or session.iteration < per_vu

    def finished(self) -> bool:
        """Every VU of an iterations executor has run its iterations (this part may have none)."""
        if not self.budgeted or self.alive or perf_counter() - self.t0 < self.spec.start_time_s:
            return False
        return bool(self.vus) or share(self.spec.max_vus, self.index, self.count) == 0

    def adjust(self, elapsed: float) -> None:
        self.ramp(elapsed, self.vus, self.start_session)  # a retired VU also runs its teardown

    def start_session(self, i: int) -> Session:
        session = self.new_session(i)
        self.spawn_session(session, self.live_session(session))
        return session

    def active(self) -> int:
        return sum(1 for s in self.vus if s.running)

    def max_conns(self) -> int:
        return share(self.spec.max_vus, self.index, self.count)

    async def live_session(self, session: Session) -> None:
        if not self.draw(session, "vu"):
            self.stats.stopped_vus += 1
            session.running = False
            return
        pacing = self.journey.pacing_s if self.journey else 0.0
        while not self.over(session) and self.take_iteration(session):
            started = perf_counter()
            outcome = await self.one_iteration(session)
            if outcome in (OK, RESTART):
                self.rec.record_iteration()
            if outcome == STOP:
                self.stats.stopped_vus += 1
                break
            if outcome == ENDED:
                break
            wait = pacing - (perf_counter() - started)
            if wait > 0 and not self.over(session):
                await self.pause(session, wait)
            elif self.python is not None or outcome != OK:
                await asyncio.sleep(0)  # an iteration that sent nothing must not starve the loop
        await self.leave(session)


class OpenJourneyProcess(JourneyProcess):
    """Open model: the profile's rate is iterations per second, each run by an idle VU."""

    def begin(self) -> None:
        self.idle: list[Session] = []
        self.sessions = 0
        self.busy = 0
        self.schedule = ArrivalSchedule(self.spec)
        self.spawn(self.start_on_schedule())

    def active(self) -> int:
        return self.busy

    def max_conns(self) -> int:
        return max(1, share(self.spec.max_vus, self.index, self.count))

    async def start_on_schedule(self) -> None:
        j, step, limit = self.index, self.count, self.max_conns()
        first = self.journey.steps[0] if self.journey else None
        while not self.stopping:
            due = self.schedule.time_of(j)
            if due is None:
                return
            now = perf_counter()
            if self.t0 + due > now + 0.001:
                await asyncio.sleep(self.t0 + due - now - 0.0005)
                continue
            if self.idle:
                session = self.idle.pop()
                self.spawn_session(session, self.run_one(session))
            elif self.sessions < limit:
                session = self.new_session(self.sessions)
                self.sessions += 1
                if self.draw(session, "vu"):
                    self.spawn_session(session, self.run_one(session))
                else:
                    self.stats.stopped_vus += 1
            else:
                self.dropped += 1
                self.rec.record_dropped(first.name if first else "iteration", first.class_name if first else "api", due)
            j += step
            if j % 64 < step:
                await asyncio.sleep(0)

    async def run_one(self, session: Session) -> None:
        self.busy += 1
        try:
            outcome = await self.one_iteration(session)
        finally:
            self.busy -= 1
        if outcome in (OK, RESTART):
            self.rec.record_iteration()
        if outcome == STOP:
            self.stats.stopped_vus += 1
            await self.leave(session)
        elif self.stopping or outcome == ENDED:
            await self.leave(session)
        else:
            self.idle.append(session)

    def end_sessions(self) -> None:
        """Idle VUs have no task: each gets one for its teardown."""
        for session in self.idle:
            self.spawn_session(session, self.leave(session))
        self.idle.clear()


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


def make_journey_process(
    spec, index=0, count=1, progress=None, should_stop=None, on_abort=None, secret_headers=None
) -> JourneyProcess:
    cls = OpenJourneyProcess if spec.model == "open" else ClosedJourneyProcess
    return cls(spec, index, count, progress, should_stop, on_abort, secret_headers)
