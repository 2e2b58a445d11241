"""k6's per-sample JSON output (``--out json=FILE``), read while k6 runs, into our frames.

Each ``Point`` line lands where the issue's table puts it (docs/k6.md):
- ``http_req_duration``: the ``MetricsRecorder`` of its ``scenario`` tag, one endpoint per ``name`` tag, its
  ``group`` and the script's own tags as labels, the ``class`` tag as the threshold class (default ``api``),
  ``expected_response`` as ok or error, ``status`` (or k6's ``error_code`` when there was no response);
- ``checks``: the check tally (``group: check``); ``group_duration``: the group breakdown;
- ``iterations``: iterations per scenario; ``vus``: active VUs; ``dropped_iterations``: dropped, per second;
- every other metric (custom Trend/Counter/Rate/Gauge, ``iteration_duration``, gRPC, WebSocket, browser):
  a custom metric of the kind its ``Metric`` line declares.

Skipped without being decoded: ``http_reqs`` and ``http_req_failed`` (one each per ``http_req_duration``,
which carries the same facts), the six HTTP timing phases, ``data_sent``/``data_received`` and ``vus_max``:
10 of the 14 lines k6 writes per request, so the reader keeps up with k6 on one core (docs/k6.md).
"""

from __future__ import annotations

import calendar
import time
from collections import Counter
from collections.abc import Callable

import msgspec

from include.perfpipe.custom_metrics import KINDS, CustomMetrics
from include.perfpipe.loadtest.engine.guard import breached
from include.perfpipe.loadtest.journey.stats import JourneyStats
from include.perfpipe.metrics import DEFAULT_SCENARIO, MetricsRecorder

DEFAULT_CLASS = "api"
# seconds a per-second histogram stays open: k6 writes a sample when its request ends, in ~1 s batches
# (a later one reopens its sealed second, exactly)
SEAL_AFTER_S = 3
POINT_PREFIX = b'{"metric":"'
SKIPPED = frozenset(
    {
        b"http_reqs",
        b"http_req_failed",
        b"http_req_blocked",
        b"http_req_connecting",
        b"http_req_tls_handshaking",
        b"http_req_sending",
        b"http_req_waiting",
        b"http_req_receiving",
        b"data_sent",
        b"data_received",
        b"vus_max",
    }
)
MAPPED = frozenset({b"http_req_duration", b"checks", b"iterations", b"vus", b"group_duration"})  # not custom metrics
# k6's system tags that say where a sample came from; the others a request carries are the script's own
SYSTEM_TAGS = frozenset(
    {
        "check",
        "class",
        "error",
        "error_code",
        "expected_response",
        "group",
        "method",
        "name",
        "proto",
        "scenario",
        "service",
        "status",
        "subproto",
        "tls_version",
        "url",
    }
)


class _Data(msgspec.Struct):
    time: str
    value: float
    tags: dict[str, str] | None = None


class _Point(msgspec.Struct):
    metric: str
    data: _Data


class _MetricInfo(msgspec.Struct):
    name: str
    type: str
    contains: str = "default"


class _Declaration(msgspec.Struct):
    data: _MetricInfo


_points = msgspec.json.Decoder(_Point)
_declarations = msgspec.json.Decoder(_Declaration)


def group_name(path: str) -> str:
    """k6's group path (``::outer::inner``) as a group name (``outer::inner``); ``""`` outside any group."""
    return path[2:] if path.startswith("::") else path


class K6Samples:
    """What a k6 run's samples add up to, timed from ``start`` (epoch seconds, the run's common start).

    At each new second it checks our ``abort_rules`` and circuit ``breaker`` (``loadtest.engine.guard.breached``, as
    the engine does); the first breach is ``abort_reason``."""

    def __init__(
        self,
        start: float,
        progress: Callable[[dict], None] | None = None,
        progress_interval_s: float = 5.0,
        abort_rules: list[dict] | None = None,
        breaker: dict | None = None,
    ) -> None:
        self.start = start
        self.progress, self.progress_interval_s = progress, progress_interval_s
        self.abort_rules, self.breaker = list(abort_rules or []), breaker
        self.abort_reason: str | None = None
        self.requests = self.errors = self.vus = 0
        self._reported = (0.0, 0)  # (elapsed, requests) of the last progress snapshot
        # one recorder for every scenario (its ``scenario`` set per sample), so the abort rules see the whole shard
        self.recorder = MetricsRecorder(DEFAULT_SCENARIO)
        self.journey = JourneyStats()
        self.dropped: Counter[str] = Counter()  # scenario -> dropped iterations
        self.lines = 0
        self.undeclared = 0  # points of a metric whose Metric line never came (not recorded)
        self.lag_max_s = 0.0  # the reader's largest backlog: wall clock minus a sample's time
        self.first_request_s: float | None = None  # the earliest request's time from ``start``
        self._kinds: dict[bytes, str] = {}
        self._seconds: dict[str, float] = {}  # "YYYY-MM-DDTHH:MM:SS" -> its epoch second
        self._labelled: set[tuple[str, str]] = set()

    # -- reading --------------------------------------------------------------------------
    def read(self, stream) -> None:
        """Read every line of ``stream`` (binary) until its end: k6 closes the output when it exits."""
        for line in stream:
            self.feed(line)

    def feed(self, line: bytes) -> None:
        """One line of k6's JSON output."""
        self.lines += 1
        if not line.startswith(POINT_PREFIX):
            if line.strip():
                self._declare(_declarations.decode(line).data)
            return
        name = line[11 : line.index(b'"', 11)]
        if name in SKIPPED:
            return
        point = _points.decode(line).data
        elapsed = self._elapsed(point.time)
        tags = point.tags or {}
        if name == b"http_req_duration":
            self._request(tags, point.value, elapsed)
        elif name == b"checks":
            group = group_name(tags.get("group", ""))
            check = tags.get("check", "")
            self.journey.checks.add(f"{group}: {check}" if group else check, point.value != 0)
        elif name == b"iterations":
            self._recorder(tags.get("scenario", DEFAULT_SCENARIO)).record_iteration()
            self.journey.iterations += 1
        elif name == b"vus":
            self.vus = int(point.value)
            self._recorder(DEFAULT_SCENARIO).set_active_vus(elapsed, self.vus)
        elif name == b"group_duration":
            self.journey.record_group(group_name(tags.get("group", "")), point.value / 1000.0, True, elapsed)
        else:
            if name == b"dropped_iterations":
                self.dropped[tags.get("scenario", DEFAULT_SCENARIO)] += int(point.value)
            self._custom(name, point.value, elapsed)

    def _declare(self, info: _MetricInfo) -> None:
        kind = info.type if info.type in KINDS else "trend"
        key = info.name.encode()
        if key in self._kinds or key in SKIPPED or key in MAPPED:
            return
        self._kinds[key] = kind
        unit = {"time": "ms", "data": "B"}.get(info.contains, "")
        self.journey.metrics.metrics.update(CustomMetrics({info.name: kind}, {info.name: unit}).metrics)

    def _elapsed(self, stamp: str) -> float:
        """Seconds from ``start`` to an RFC 3339 UTC stamp (k6 runs with ``TZ=UTC``: ``...:SS.fffffffffZ``)."""
        whole = stamp[:19]
        second = self._seconds.get(whole)
        if second is None:
            second = self._seconds[whole] = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
            self.lag_max_s = max(self.lag_max_s, time.time() - second - 1.0)
            current = int(second - self.start)
            self._seal(current - SEAL_AFTER_S)
            if self.abort_reason is None and (self.abort_rules or self.breaker):
                self.abort_reason = breached(self.recorder, current, self.abort_rules, self.breaker)
            if self.progress is not None and second - self.start >= self._reported[0] + self.progress_interval_s:
                self._report(second - self.start)
        fraction = stamp[19:-1]
        return second + (float(fraction) if fraction else 0.0) - self.start

    def _request(self, tags: dict[str, str], duration_ms: float, elapsed: float) -> None:
        scenario = tags.get("scenario", DEFAULT_SCENARIO)
        name = tags.get("name") or tags.get("url", "")
        recorder = self._recorder(scenario)
        if (scenario, name) not in self._labelled:
            self._labelled.add((scenario, name))
            own = {k: v for k, v in tags.items() if k not in SYSTEM_TAGS}
            recorder.label(name, group_name(tags.get("group", "")), own)
        status = tags.get("status", "0")  # "0": no response; k6's error code says why (1050 timeout, 1211 refused)
        status = f"k6 error {tags.get('error_code', 'unknown')}" if status == "0" else int(status)
        ok = tags.get("expected_response") == "true"
        if self.first_request_s is None or elapsed < self.first_request_s:
            self.first_request_s = elapsed
        self.requests += 1
        self.errors += not ok
        recorder.record(name, tags.get("class", DEFAULT_CLASS), duration_ms / 1000.0, ok, status, elapsed)

    def _seal(self, before: int) -> None:
        """Encode and free the per-second histograms before ``before``, so memory stays flat in run length."""
        self.recorder.seal_before(before)
        self.journey.groups.seal_before(before)

    def _report(self, elapsed: float) -> None:
        """A progress snapshot (``RunHooks.progress``'s shape) from the reader's own thread, at a second's start."""
        since, before = self._reported
        self._reported = (elapsed, self.requests)
        rps = (self.requests - before) / (elapsed - since) if elapsed > since else 0.0
        self.progress(
            {
                "elapsed_s": round(elapsed),
                "vus": self.vus,
                "rps": round(rps, 1),
                "p95_ms": float("nan"),  # the open second's histogram is still filling
                "requests": self.requests,
                "errors": self.errors,
                "dropped": self.dropped_total,
            }
        )

    def _custom(self, name: bytes, value: float, elapsed: float) -> None:
        if name not in self._kinds:
            self.undeclared += 1
            return
        self.journey.metrics.add(name.decode(), value, elapsed)

    def _recorder(self, scenario: str) -> MetricsRecorder:
        """The recorder, recording for ``scenario`` (it keys endpoints and seconds by scenario, as a merge does)."""
        self.recorder.scenario = scenario
        return self.recorder

    # -- results --------------------------------------------------------------------------
    def metrics(self) -> MetricsRecorder:
        """Every scenario's requests."""
        return self.recorder

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())
