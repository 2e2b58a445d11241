"""One virtual user's session and one request in flight.

A ``Session`` is what templates read (``number``, ``iteration``, ``vars``, ``rows``) plus the VU's
connection and the ``Exchange`` in flight; an ``Exchange`` is the request a connection sends (a
``framing.PreparedRequest``) and how its answer is judged: expected status, declarative checks, the Python
check, then extraction.
"""

from __future__ import annotations

import httpx

from include.perfpipe.loadtest.http.framing import PreparedRequest
from include.perfpipe.loadtest.journey.answer import Answer


class Session:
    __slots__ = (
        "number",
        "iteration",
        "vars",
        "rows",
        "conn",
        "waiter",
        "pause",
        "retired",
        "ready",
        "leaving",
        "cookies",
        "told_ended",
        "exchange",
    )

    def __init__(self, number: int, variables: dict, cookies=None) -> None:
        self.number, self.iteration = number, 0
        self.cookies = cookies  # the VU's CookieJar (None: cookies off)
        self.vars, self.rows = dict(variables), {}
        self.conn = None
        self.waiter = None  # the future the VU awaits while its request is in flight
        self.pause = None  # the future it awaits while it thinks or paces (the test's end wakes it)
        self.retired = False  # ramped down: finish the request in flight, run teardown, stop
        self.ready = False  # setup done
        self.leaving = False  # running its teardown
        self.told_ended = False  # a Python journey was told the test ended (``TestEnded``)
        self.exchange: Exchange | None = None  # the request in flight, judged when its answer comes


class Exchange:
    """One request of a session and its outcome: ``request``, the ``PreparedRequest`` in flight (a redirect's
    next ``hop`` takes its place), and how the answer is judged (``evaluate``): ``ok``, ``label`` (why not,
    when the status does not say), the ``answer`` kept and ``checks_failed``."""

    __slots__ = ("request", "expect", "step", "session", "checks", "ok", "label", "answer", "hop", "checks_failed")

    def __init__(self, request: PreparedRequest, expect: frozenset, step=None, session=None, checks=None) -> None:
        self.request, self.expect, self.step, self.session, self.checks = request, expect, step, session, checks
        self.ok, self.label, self.answer, self.hop = False, None, None, None
        self.checks_failed = 0  # declarative checks of the step that failed on this response

    @property
    def response(self) -> httpx.Response | None:
        """The kept response as an ``httpx.Response`` (built on first use), or None."""
        return None if self.answer is None else self.answer.response()

    def evaluate(self, status: int, answer: Answer | None) -> None:
        """ok when the status is expected and neither a ``fail_request`` check nor the step's check
        failed nor an extraction came back empty; ``label`` then names why (``ExtractError``,
        ``CheckError`` when the step's check raised)."""
        try:
            self.ok = self._evaluate(status, answer)
        except Exception:  # a user check that raises is a failed check, not a crashed generator
            self.ok, self.label = False, "CheckError"

    def _evaluate(self, status: int, answer: Answer | None) -> bool:
        self.answer = answer
        ok = status in self.expect
        step = self.step
        if step is not None:
            if answer is None:
                answer = Answer(status)
            for rule in step.checks:
                passed = rule.passed(answer)
                self.checks.add(rule.key, passed)
                if not passed:
                    self.checks_failed += 1
                    if rule.fail_request:
                        ok = False
            if ok and step.check is not None and not step.check(answer.response()):
                ok = False
            if ok and step.extractors:
                variables = self.session.vars
                for name, extractor in step.extractors.items():
                    value = extractor.value(answer)
                    if value is None:
                        ok, self.label = False, "ExtractError"
                    else:
                        variables[name] = value
        return ok
