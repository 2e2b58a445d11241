"""The composition root: every run, from the CLI, a DAG, the tuning re-run or the DB benchmark, is put
together here and nowhere else, in three steps.

``plan_run``   spec, allowlist and credential names, checked before anything runs (``plan``);
``run_shard``  credentials resolved, the engine chosen (``engines.Engine``; ``engine_registry``), one shard run
``judge_run``  validation against the threshold suites and the verdict (``judge``).

The DB benchmark goes the same way: ``plan_benchmark``, ``run_benchmark``, ``judge_run`` (``benchmark``).
``folder_name`` and ``run_dir`` name where a run's local files go. Importing this package imports neither
the engine nor great_expectations: each step does, when it runs.
"""

from include.perfpipe.runs.benchmark import BenchmarkPlan, plan_benchmark, run_benchmark
from include.perfpipe.runs.engine_registry import ENGINES, PerfpipeEngine, engine_named
from include.perfpipe.runs.engines import NO_HOOKS, WHOLE_RUN, Engine, RunHooks, Shard
from include.perfpipe.runs.folders import folder_id, folder_name, run_dir
from include.perfpipe.runs.judge import judge_and_write, judge_error, judge_run
from include.perfpipe.runs.plan import Plan, plan_run
from include.perfpipe.runs.shard import CredentialSource, no_credentials, run_shard

__all__ = [
    "BenchmarkPlan",
    "ENGINES",
    "NO_HOOKS",
    "WHOLE_RUN",
    "CredentialSource",
    "Engine",
    "PerfpipeEngine",
    "Plan",
    "RunHooks",
    "Shard",
    "engine_named",
    "folder_id",
    "folder_name",
    "judge_and_write",
    "judge_error",
    "judge_run",
    "no_credentials",
    "plan_benchmark",
    "plan_run",
    "run_benchmark",
    "run_dir",
    "run_shard",
]
