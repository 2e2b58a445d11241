"""A load generator worker process, driven by ``runner._run_processes`` over JSON lines.

stdin: ``{"client", "spec", "index", "count", "secret_headers"}`` (``client``: the ``engine.client.Client``'s
importable name; credentials travel on this pipe only), then
``{"start_at"}``, then possibly ``{"stop": true, "reason"}`` (``reason`` optional: the stopped part's
``abort_reason``).
stdout: ``{"kind": "ready"}``, ``{"kind": "progress", ...}``, ``{"kind": "aborted", "reason"}`` and finally
``{"kind": "result", "result": LoadResult.to_dict()}`` or ``{"kind": "error", "error": ...}``.
"""

from __future__ import annotations

import json
import sys
import threading


def _emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(stdin=None) -> None:
    stdin = stdin or sys.stdin
    try:
        from include.perfpipe.loadtest.engine.client import client_named
        from include.perfpipe.loadtest.engine.runner import run_part

        job = json.loads(stdin.readline())
        client = client_named(job["client"])
        spec = client.spec_from_dict(job["spec"])
        _emit({"kind": "ready"})
        start = json.loads(stdin.readline())
        if "start_at" not in start:
            return
        stops: list[str | bool] = []  # the parent's stop requests: their reason, or True

        def watch_stdin() -> None:
            for line in stdin:
                message = json.loads(line)
                if message.get("stop"):
                    stops.append(message.get("reason") or True)
            stops.append(True)  # the parent went away

        threading.Thread(target=watch_stdin, daemon=True).start()
        result = run_part(
            spec,
            client,
            job["index"],
            job["count"],
            start["start_at"],
            progress=lambda snapshot: _emit({"kind": "progress", "progress": snapshot}),
            should_stop=lambda: stops[0] if stops else None,
            on_abort=lambda reason: _emit({"kind": "aborted", "reason": reason}),
            secret_headers=job.get("secret_headers"),
        )
        _emit({"kind": "result", "result": result.to_dict()})
    except Exception as exc:  # reported to the parent, which fails the run
        _emit({"kind": "error", "error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main()
