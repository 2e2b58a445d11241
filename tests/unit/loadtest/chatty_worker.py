"""A load test worker that first prints a line looking like JSON but not JSON (a chatty library)."""

import sys

from include.perfpipe.loadtest.engine import worker

if __name__ == "__main__":
    print("{not json, printed by a library", flush=True)
    worker.main(sys.stdin)
