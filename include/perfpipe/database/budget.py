"""A DB task's time budget, which every statement of the task fits inside.

A task's ``execution_timeout`` ends the task, not its statement: PostgreSQL runs the statement on, holding its
locks. So a task hands its budget down, and each statement gets the smaller of its own cap and what is left
(less what must still follow it, such as dropping an INVALID index after a failed build); a statement that no
longer fits is not started, and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from include.perfpipe.errors import ConfigError

MIN_STATEMENT_S = 1.0  # below this a statement is not started: it could only time out


class Budget:
    """``seconds`` of wall time from now (``clock``: ``time.monotonic``)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not seconds > 0:
            raise ConfigError(f"budget: must be > 0 seconds, got {seconds!r}")
        self.seconds = float(seconds)
        self._clock = clock
        self._deadline = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._deadline - self._clock())

    def statement_timeout(self, cap: float | None, reserve: float = 0.0) -> float | None:
        """Seconds the next statement may run: ``cap`` (None: no cap of its own) or what is left after
        ``reserve``, whichever is smaller; None when under ``MIN_STATEMENT_S`` is left for it."""
        left = self.remaining() - reserve
        if left < MIN_STATEMENT_S:
            return None
        return left if cap is None or cap <= 0 else min(cap, left)

    def spent(self, what: str) -> str:
        """Why ``what`` was not started."""
        return f"{what} not started: {self.remaining():.0f} s of the task's {self.seconds:.0f} s time budget left"
