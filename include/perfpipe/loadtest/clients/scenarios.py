"""Named scenarios side by side on one event loop: one load generator per scenario (its executor, journey and
recorder), started together from the common start, merged into one result.

Each scenario's shard takes part ``index`` of ``count`` of that scenario's VUs, arrivals and shared
iterations, as a single-scenario run does. When one scenario's abort rules stop it, the others stop.
"""

from __future__ import annotations

import asyncio
import time

from include.perfpipe.loadtest.contract import LoadSpec
from include.perfpipe.loadtest.result import LoadResult, merge_results


class NamedScenarios:
    """``spec.scenarios`` run together; ``generator_for`` builds each scenario's own generator (the HTTP
    clients' choice, handed in so that this module imports none of them)."""

    def __init__(
        self,
        spec: LoadSpec,
        generator_for,
        index=0,
        count=1,
        progress=None,
        should_stop=None,
        on_abort=None,
        secret_headers=None,
    ):
        self.spec, self.progress, self.stop_reason = spec, progress, None
        self.latest: dict[int, dict] = {}
        self.last_emit = 0.0

        def stop():
            return self.stop_reason or (should_stop() if should_stop is not None else None)

        def aborted(reason: str) -> None:
            if self.stop_reason is None:
                self.stop_reason = f"stopped: another scenario aborted: {reason}"
                if on_abort is not None:
                    on_abort(reason)

        self.parts = [
            generator_for(part, index, count, self._progress_of(i), stop, aborted, secret_headers)
            for i, part in enumerate(spec.scenario_specs())
        ]

    def _progress_of(self, i: int):
        def report(snapshot: dict) -> None:
            self.latest[i] = snapshot
            now = time.monotonic()
            if self.progress is None or now - self.last_emit < self.spec.progress_interval_s * 0.9:
                return
            self.last_emit = now
            snaps = list(self.latest.values())
            combined = {
                key: sum(s.get(key, 0) for s in snaps) for key in ("vus", "rps", "requests", "errors", "dropped")
            }
            combined["elapsed_s"] = max(s["elapsed_s"] for s in snaps)
            combined["p95_ms"] = max((s["p95_ms"] for s in snaps if s["p95_ms"] == s["p95_ms"]), default=float("nan"))
            self.progress(combined)

        return report

    async def run(self, t0_epoch: float) -> LoadResult:
        results = await asyncio.gather(*(part.run(t0_epoch) for part in self.parts))
        merged = merge_results(list(results))
        merged.spec = self.spec.to_dict()
        merged.stages = self.spec.stage_windows()
        merged.health["processes"] = 1  # one event loop ran them all
        if self.stop_reason and not merged.abort_reason:
            merged.aborted, merged.abort_reason = True, self.stop_reason
        return merged
