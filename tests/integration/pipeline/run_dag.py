"""Run one DAG file's ``dag.test()`` in a fresh interpreter and print its outcome as JSON on the last line.

Usage: python tests/integration/pipeline/run_dag.py dags/perf_smoke.py '{"duration": "5s"}'
"""

import importlib.util
import json
import sys

path, conf = sys.argv[1], json.loads(sys.argv[2])
spec = importlib.util.spec_from_file_location("dag_under_test", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dag.test(run_conf=conf)
print(json.dumps({"state": str(run.state), "run_id": run.run_id}))
