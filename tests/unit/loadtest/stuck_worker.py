"""A load test worker for the run-deadline test: part 0 works, any other part hangs after the start."""

import io
import json
import sys
import time

from include.perfpipe.loadtest.engine import worker


class _Replay(io.TextIOBase):
    """stdin with its first line already read and given back."""

    def __init__(self, first: str, rest) -> None:
        self.first, self.rest = first, rest

    def readline(self, size=-1) -> str:
        line, self.first = self.first, None
        return line if line is not None else self.rest.readline()

    def __iter__(self):
        return iter(self.rest)


if __name__ == "__main__":
    first = sys.stdin.readline()
    if json.loads(first)["index"] == 0:
        worker.main(_Replay(first, sys.stdin))
    else:
        print(json.dumps({"kind": "ready"}), flush=True)
        sys.stdin.readline()
        time.sleep(3600)  # never answers, ignores stop requests on stdin
