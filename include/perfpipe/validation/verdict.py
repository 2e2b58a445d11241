"""A run's verdict, decided here once: the vocabulary, the exit codes and the rule over a run bundle.

Every consumer reads it from here: ``validate`` (a load test's frames), the report (``summary.json``),
the results store, the release gate and the CLI exit codes.
"""

from __future__ import annotations

from enum import StrEnum

from include.perfpipe.errors import ConfigError


class Verdict(StrEnum):
    """pass: every threshold met; fail: one breached; invalid: the generator could not measure;
    error: the target or DB was unreachable, or the run failed."""

    PASS = "pass"
    FAIL = "fail"
    INVALID = "invalid"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]


VERDICTS = tuple(v.value for v in Verdict)
_EXIT_CODES = {Verdict.PASS: 0, Verdict.FAIL: 1, Verdict.INVALID: 2, Verdict.ERROR: 3}


def parse_verdict(value: object, field: str = "verdict") -> Verdict:
    """``value`` as a ``Verdict``; a ConfigError naming ``field`` and the value otherwise."""
    try:
        return Verdict(value)
    except ValueError:
        raise ConfigError(f"{field} must be one of {', '.join(VERDICTS)}, got {value!r}") from None


def run_verdict(bundle: dict) -> tuple[str, str]:
    """The verdict and reason of a run bundle: the run's own, else validation's, else what the stages say.

    Without a validation result, the first failed task (``bundle["failure"]``) is the cause; a database-only
    run fails on a critical finding. A run with a task that failed for good never passes: it is an error
    naming that task.
    """
    run, validation, load = bundle["run"], _section(bundle, "validation"), _section(bundle, "loadtest")
    database, failure = _section(bundle, "database"), _section(bundle, "failure")
    cause = f"task {failure.get('task_id')} failed: {failure.get('error')}" if failure else None
    if run.get("verdict"):
        verdict, reason = run["verdict"], run.get("reason") or ""
    elif validation:
        verdict, reason = validation.get("verdict"), validation.get("reason") or ""
    elif load and load.get("aborted"):
        verdict, reason = Verdict.ERROR, f"load test aborted: {load.get('abort_reason')}"
    elif load:
        verdict = Verdict.ERROR
        reason = cause or "the load test has no validation result (the validate task did not finish)"
    elif cause:
        verdict, reason = Verdict.ERROR, cause
    elif database is not None:
        critical = sum(1 for f in database.get("findings") or [] if f.get("severity") == "critical")
        verdict = Verdict.FAIL if critical else Verdict.PASS
        reason = f"{critical} critical database finding(s)" if critical else "no critical database findings"
    else:
        verdict, reason = Verdict.ERROR, "the run produced no results (an upstream task failed)"
    if cause and verdict == Verdict.PASS and not run.get("verdict"):  # e.g. the DB stage failed for good
        verdict, reason = Verdict.ERROR, f"{cause} (otherwise: {reason})"
    return parse_verdict(verdict).value, reason


def _section(bundle: dict, key: str) -> dict | None:
    part = bundle.get(key)
    if part is not None and not isinstance(part, dict):
        raise ConfigError(f"bundle.{key} must be a dict or null, got {type(part).__name__}")
    return part
