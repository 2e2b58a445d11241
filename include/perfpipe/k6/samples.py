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
which carries the same facts), and unless ``carried`` names them (a threshold or the script does:
``runner.named_metrics``) the six HTTP timing phases, ``data_sent``/``data_received`` and ``vus_max``:
10 of the 13 lines k6 writes per request, so the reader keeps up with k6 on one core (docs/k6.md).
"""

from __future__ import annotations

import calendar
import time
from collections import Counter
from collections.abc import Callable, Iterable
from functools import partial

import msgspec
import numpy as np

from include.perfpipe.custom_metrics import KINDS, CustomMetrics
from include.perfpipe.k6.secrets import masker
from include.perfpipe.loadtest.engine.abort_rules import AbortRule, CircuitBreaker
from include.perfpipe.loadtest.engine.guard import breached
from include.perfpipe.loadtest.journey.stats import JourneyStats
from include.perfpipe.metrics import DEFAULT_SCENARIO, MetricsRecorder

DEFAULT_CLASS = "api"
# seconds a per-second histogram stays open: k6 writes a sample when its request ends, in ~1 s batches
# (a later one reopens its sealed second, exactly)
SEAL_AFTER_S = 3
CHUNK_BYTES = 1 << 20  # one read of the FIFO; k6 flushes its output every 200 ms
FILL_WAIT_S = 0.05  # after a short read, for the pipe to fill (``K6Samples.read``); at most this much backlog
DECLARATION = b'{"type":"Metric",'
REDUNDANT = frozenset({"http_reqs", "http_req_failed"})  # http_req_duration carries their facts: never read
TIMING_PHASES = (
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
)
# read as custom metrics only when carried: the six phases more than double the reader's CPU (docs/k6.md)
WHEN_NAMED = frozenset({*TIMING_PHASES, "data_sent", "data_received", "vus_max"})
# k6's own default ``systemTags`` (what ``k6 inspect`` reports when a script does not set them)
K6_DEFAULT_SYSTEM_TAGS = frozenset(
    [
        "check",
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
    ]
)
# k6's system tags that say where a sample came from; the others a request carries are the script's own
SYSTEM_TAGS = K6_DEFAULT_SYSTEM_TAGS | {"class"}


class _Tags(msgspec.Struct):
    """The tags our frames read (msgspec skips the others undecoded)."""

    name: str = ""
    url: str = ""
    scenario: str = DEFAULT_SCENARIO
    group: str = ""
    status: str = "0"  # "0": no response; k6's error code says why (1050 timeout, 1211 refused)
    expected_response: str = ""
    error_code: str = "unknown"
    check: str = ""
    class_name: str = msgspec.field(name="class", default=DEFAULT_CLASS)


class _Data(msgspec.Struct):
    time: str
    value: float
    tags: _Tags = msgspec.field(default_factory=_Tags)


class _Value(msgspec.Struct):
    time: str
    value: float


class _Scenario(msgspec.Struct):
    scenario: str = DEFAULT_SCENARIO


class _Iteration(msgspec.Struct):
    tags: _Scenario = msgspec.field(default_factory=_Scenario)


class _AllTags(msgspec.Struct):
    tags: dict[str, str] = {}


class _MetricInfo(msgspec.Struct):
    name: str
    type: str
    contains: str = "default"


class _Declaration(msgspec.Struct):
    data: _MetricInfo


_samples = msgspec.json.Decoder(list[_Data])
_values = msgspec.json.Decoder(list[_Value])
_iterations = msgspec.json.Decoder(list[_Iteration])
_all_tags = msgspec.json.Decoder(_AllTags)
_declarations = msgspec.json.Decoder(_Declaration)


def group_name(path: str) -> str:
    """k6's group path (``::outer::inner``) as a group name (``outer::inner``); ``""`` outside any group."""
    return path[2:] if path.startswith("::") else path


def point_data(chunk: bytes, metric: str) -> list[bytes]:
    """The ``data`` object of every ``Point`` line of ``metric`` in ``chunk``, in order. ``bytes.find`` skips
    the lines of other metrics in C: the 10 of k6's 13 lines per request we do not read cost no Python step.
    A needle with its quotes cannot occur inside a JSON string (quotes there are escaped)."""
    needle = b'{"metric":"' + metric.encode() + b'","type":"Point","data":'
    found, find, skip = [], chunk.find, len(needle)
    at = find(needle)
    while at >= 0:
        end = find(b"\n", at)
        if end < 0:
            end = len(chunk)
        found.append(chunk[at + skip : end - 1])  # without the envelope's closing brace
        at = find(needle, end)
    return found


def _array(parts: list[bytes]) -> bytes:
    return b"[" + b",".join(parts) + b"]"


class K6Samples:
    """What a k6 run's samples add up to, timed from ``start`` (epoch seconds, the run's common start).

    At each new second it checks our ``abort_rules`` and circuit ``breaker`` (``loadtest.engine.guard.breached``, as
    the engine does); the first breach is ``abort_reason``. ``carried``: metrics of ``WHEN_NAMED`` to read as
    custom metrics (the timing phases as trends, so they can be thresholded and charted). ``secrets``: text
    replaced by ``***`` in the names, groups, tags and checks read (``secrets.secret_forms``: a secret a script
    put in a URL, a check or a tag); masked once decoded, so k6's JSON cannot be cut by a short secret."""

    def __init__(
        self,
        start: float,
        progress: Callable[[dict], None] | None = None,
        progress_interval_s: float = 5.0,
        abort_rules: list[AbortRule] | None = None,
        breaker: CircuitBreaker | None = None,
        carried: Iterable[str] = (),
        secrets: Iterable[str] = (),
    ) -> None:
        self.start = start
        self._mask = masker(secrets)  # on the strings read that reach our frames (names, groups, tags, checks)
        self._masked: dict[str, str] = {}  # an endpoint name as read -> masked (as many as endpoints)
        self._skipped = REDUNDANT | (WHEN_NAMED - set(carried))
        self.progress, self.progress_interval_s = progress, progress_interval_s
        self.abort_rules, self.breaker = list(abort_rules or []), breaker
        self.abort_reason: str | None = None
        self.requests = self.errors = self.vus = 0
        self._reported = (0.0, 0)  # (elapsed, requests) of the last progress snapshot
        # one recorder for every scenario (its ``scenario`` set per sample), so the abort rules see the whole shard
        self.recorder = MetricsRecorder(DEFAULT_SCENARIO)
        self.journey = JourneyStats()
        self.dropped: Counter[str] = Counter()  # scenario -> dropped iterations
        self.bytes_read = 0
        self.cpu_s = 0.0  # the reading thread's CPU seconds, set by the runner when k6's output ends
        self.lag_max_s = 0.0  # the reader's largest backlog: wall clock minus a sample's time
        self.first_request_s: float | None = None  # the earliest request's time from ``start``
        self.failure: str | None = None  # why reading stopped early (``runner.read_all``)
        # the metrics read, in k6's order of declaration: name -> what reads a batch of its samples
        self._readers: dict[str, Callable[[list[bytes]], None]] = {}
        self._seconds: dict[str, float] = {}  # "YYYY-MM-DDTHH:MM:SS" -> its epoch second
        self._labelled: set[tuple[str, str]] = set()
        # (scenario, name, class, status, ok, second) -> durations (ms) read but not yet recorded
        self._pending: dict[tuple, list[float]] = {}

    # -- reading --------------------------------------------------------------------------
    def read(self, stream, fill_wait_s: float = 0.0) -> None:
        """Read ``stream`` (binary, with ``read1``) until its end, in chunks: k6 closes the output when it exits.
        After a read of less than half a chunk, wait ``fill_wait_s`` for the pipe to fill: k6 writes its output
        in pieces of a few KB, and a reader woken for each costs k6 and itself a switch of the core they share
        (median read 2-16 KB without the wait, 0.5-0.9 MB with 50 ms; the reader's CPU a request 25 % less)."""
        rest = b""
        while chunk := stream.read1(CHUNK_BYTES):
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut:
                self.feed(data[:cut])
            rest = data[cut:]
            if fill_wait_s and len(chunk) < CHUNK_BYTES // 2:
                time.sleep(fill_wait_s)
        if rest.strip():
            self.feed(rest)

    def feed(self, chunk: bytes) -> None:
        """Whole lines of k6's JSON output: a metric's declaration comes before its first point (k6 writes
        it in the same flush), so each metric's points are read in one batch per chunk, in k6's order."""
        self.bytes_read += len(chunk)
        if DECLARATION in chunk:
            at = chunk.find(DECLARATION)
            while at >= 0:
                end = chunk.find(b"\n", at)
                self._declare(_declarations.decode(chunk[at : end if end >= 0 else len(chunk)]).data)
                at = chunk.find(DECLARATION, end) if end >= 0 else -1
        for metric, read in self._readers.items():
            parts = point_data(chunk, metric)
            if parts:
                read(parts)

    def _declare(self, info: _MetricInfo) -> None:
        name = info.name
        if name in self._readers or name in self._skipped:
            return
        mapped = {
            "http_req_duration": self._requests,
            "checks": self._checks,
            "iterations": self._iterations,
            "vus": self._vus,
            "group_duration": self._groups,
        }
        if name in mapped:
            self._readers[name] = mapped[name]
            return
        kind = info.type if info.type in KINDS else "trend"
        unit = {"time": "ms", "data": "B"}.get(info.contains, "")
        self.journey.metrics.metrics.update(CustomMetrics({name: kind}, {name: unit}).metrics)
        self._readers[name] = partial(self._custom, name)

    def _elapsed(self, stamp: str) -> float:
        """Seconds from ``start`` to an RFC 3339 UTC stamp (k6 runs with ``TZ=UTC``: ``...:SS.fffffffffZ``)."""
        whole = stamp[:19]
        second = self._seconds.get(whole)
        if second is None:
            second = self._seconds[whole] = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
            self._record_pending()  # the rules below see every request read so far
            self.lag_max_s = max(self.lag_max_s, time.time() - second - 1.0)
            current = int(second - self.start)
            self._seal(current - SEAL_AFTER_S)
            if self.abort_reason is None and (self.abort_rules or self.breaker):
                self.abort_reason = breached(self.recorder, current, self.abort_rules, self.breaker)
            if self.progress is not None and second - self.start >= self._reported[0] + self.progress_interval_s:
                self._report(second - self.start)
        fraction = stamp[19:-1]
        return second + (float(fraction) if fraction else 0.0) - self.start

    def _requests(self, parts: list[bytes]) -> None:
        """``http_req_duration``: one request each. Requests of one endpoint, outcome and second are gathered
        and recorded together (``MetricsRecorder.record_many``) at the chunk's end or a new second's start."""
        pending, elapsed_of, labelled, mask = self._pending, self._elapsed, self._labelled, self._mask
        first = self.first_request_s
        for index, sample in enumerate(_samples.decode(_array(parts))):
            tags, elapsed = sample.tags, elapsed_of(sample.time)
            scenario, name = tags.scenario, tags.name or tags.url
            if mask is not None:
                name = self._masked.get(name) or self._masked.setdefault(name, mask(name))
            if (scenario, name) not in labelled:
                labelled.add((scenario, name))
                everything = _all_tags.decode(parts[index]).tags
                own = {k: v for k, v in everything.items() if k not in SYSTEM_TAGS}
                group = group_name(tags.group)
                if mask is not None:
                    own, group = {mask(k): mask(v) for k, v in own.items()}, mask(group)
                self.recorder.scenario = scenario
                self.recorder.label(name, group, own)
            status = tags.status
            status = f"k6 error {tags.error_code}" if status == "0" else int(status)
            ok = tags.expected_response == "true"
            if first is None or elapsed < first:
                first = elapsed
            key = (scenario, name, tags.class_name, status, ok, int(elapsed))
            durations = pending.get(key)
            if durations is None:
                pending[key] = [sample.value]
            else:
                durations.append(sample.value)
            self.requests += 1  # counted per request: progress reads them at a new second, mid-batch
            self.errors += not ok
        self.first_request_s = first
        self._record_pending()

    def _record_pending(self) -> None:
        recorder = self.recorder
        for (scenario, name, class_name, status, ok, second), durations_ms in self._pending.items():
            recorder.scenario = scenario
            recorder.record_many(name, class_name, np.asarray(durations_ms) / 1000.0, ok, status, second)
        self._pending.clear()

    def _checks(self, parts: list[bytes]) -> None:
        add = self.journey.checks.add
        for sample in _samples.decode(_array(parts)):
            self._elapsed(sample.time)
            group, check = group_name(sample.tags.group), sample.tags.check
            check = f"{group}: {check}" if group else check
            add(check if self._mask is None else self._mask(check), sample.value != 0)

    def _iterations(self, parts: list[bytes]) -> None:
        scenarios = Counter(sample.tags.scenario for sample in _iterations.decode(_array(parts)))
        for scenario, count in scenarios.items():
            self.recorder.iterations[scenario] = self.recorder.iterations.get(scenario, 0) + count
        self.journey.iterations += len(parts)

    def _vus(self, parts: list[bytes]) -> None:
        for sample in _values.decode(_array(parts)):
            self.vus = int(sample.value)
            self.recorder.scenario = DEFAULT_SCENARIO
            self.recorder.set_active_vus(self._elapsed(sample.time), self.vus)

    def _groups(self, parts: list[bytes]) -> None:
        for sample in _samples.decode(_array(parts)):
            elapsed = self._elapsed(sample.time)
            self.journey.record_group(group_name(sample.tags.group), sample.value / 1000.0, True, elapsed)

    def _custom(self, name: str, parts: list[bytes]) -> None:
        """A custom metric (or a built-in one we carry as such): ``dropped_iterations`` also counts per scenario."""
        if name == "dropped_iterations":
            for sample in _samples.decode(_array(parts)):
                self.dropped[sample.tags.scenario] += int(sample.value)
        samples = _values.decode(_array(parts))
        elapsed_of = self._elapsed
        self.journey.metrics.add_many(name, [s.value for s in samples], [elapsed_of(s.time) for s in samples])

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

    # -- results --------------------------------------------------------------------------
    def metrics(self) -> MetricsRecorder:
        """Every scenario's requests."""
        return self.recorder

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())
