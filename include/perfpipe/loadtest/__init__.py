"""The httpx-modelled load engine: closed (VU) and open (arrival-rate) models on raw keep-alive
connections, HDR-histogram metrics, exact shard merging, abort rules and a target allowlist."""

from include.perfpipe.durations import parse_duration
from include.perfpipe.loadtest.contract import Endpoint, LoadSpec
from include.perfpipe.loadtest.http.target import TargetNotAllowed, TargetUnreachable, check_target
from include.perfpipe.loadtest.result import LoadResult, merge_results
from include.perfpipe.loadtest.run import run_load_test
from include.perfpipe.loadtest.spec import load_spec

__all__ = [
    "Endpoint",
    "LoadResult",
    "LoadSpec",
    "TargetNotAllowed",
    "TargetUnreachable",
    "check_target",
    "load_spec",
    "merge_results",
    "parse_duration",
    "run_load_test",
]
