"""One virtual user's session and one request in flight.

A ``Session`` is what templates read (``number``, ``iteration``, ``vars``, ``rows``) plus the VU's
connection; an ``Exchange`` is what a connection sends (the endpoint-like fields it reads) and how
the answer is judged: expected status, declarative checks, the Python check, then extraction.
"""

from __future__ import annotations

import httpx

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


class Exchange:
    """One request: ``raw`` bytes to ``host:port`` (the fields ``HttpConnection.send`` reads, as a
    ``Prepared`` has them); ``evaluate`` decides ok and fills the session."""

    __slots__ = (
        "name",
        "class_name",
        "raw",
        "host",
        "port",
        "ssl",
        "keep_body",
        "max_body_bytes",
        "no_body",
        "request",
        "expect",
        "step",
        "session",
        "checks",
        "ok",
        "label",
        "answer",
        "hops",
        "hop",
        "_url",
        "checks_failed",
    )

    def __init__(
        self,
        name: str,
        class_name: str,
        raw: bytes,
        host: str,
        port: int,
        ssl,
        request: httpx.Request,
        expect: frozenset,
        no_body: bool,
        keep_body: bool,
        max_body_bytes: int,
        step=None,
        session=None,
        checks=None,
    ):
        self.name, self.class_name, self.raw, self.host, self.port, self.ssl = name, class_name, raw, host, port, ssl
        self.request, self.expect, self.no_body = request, expect, no_body
        self.keep_body, self.max_body_bytes = keep_body, max_body_bytes
        self.step, self.session, self.checks = step, session, checks
        self.ok, self.label, self.answer = False, None, None
        self.checks_failed = 0  # declarative checks of the step that failed on this response
        self.hops, self.hop, self._url = 0, None, None  # redirects followed; the next one to send

    @property
    def url(self) -> str:
        """The URL this request goes to (for cookies and redirects), read from its request line."""
        if self._url is None:
            target = self.raw[self.raw.index(b" ") + 1 : self.raw.index(b" HTTP/1.1\r\n")].decode("latin-1")
            host = f"[{self.host}]" if ":" in self.host else self.host
            self._url = f"{'https' if self.ssl else 'http'}://{host}:{self.port}{target}"
        return self._url

    def move_to(self, hop) -> None:
        """Become the redirect's next request (a ``connection.Hop``): same name, step and verdict."""
        self.raw, self.host, self.port, self.ssl = hop.raw, hop.host, hop.port, hop.ssl
        self.request, self.no_body, self.hops = hop.request, hop.no_body, hop.hops
        self.hop, self._url = None, hop.url

    @property
    def head(self) -> bytes:
        """The request line and headers, up to the last header's CRLF (per-VU lines go after it)."""
        return self.raw[: self.raw.index(b"\r\n\r\n") + 2]

    @property
    def tail(self) -> bytes:
        return self.raw[self.raw.index(b"\r\n\r\n") + 2 :]

    @property
    def response(self) -> httpx.Response | None:
        """The kept response as an ``httpx.Response`` (built on first use), or None."""
        return None if self.answer is None else self.answer.response()

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> Answer:
        return Answer(status, headers, body, self.request)

    def judge(self, status, response) -> bool:
        """The verdict ``evaluate`` reached (the shard evaluates first, to record ``label`` if set)."""
        return self.ok

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
