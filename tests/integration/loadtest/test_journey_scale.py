"""2 shards x 2 processes of one journey: VU numbers never repeat and no sequential feeder row is used twice."""

import collections
import json
import threading

import pytest

from include.perfpipe.loadtest import load_spec, merge_results, run_load_test
from tests.unit.loadtest.journey.server import JourneyServer

pytestmark = pytest.mark.integration
SCENARIO = """
feeders:
  rows: {file: rows.csv, strategy: sequential, per: iteration, when_exhausted: stop}
journey:
  setup: [{name: login, method: POST, path: /login, json: {user: "vu-{{ vu }}"}, extract: {token: $.token}}]
  steps: [{name: use_row, path: "/ok?row={{ rows.n }}", headers: {X-VU: "{{ vu }}"}, think_time: 20ms}]
"""


def test_shards_and_processes_split_vus_and_rows(tmp_path):
    (tmp_path / "rows.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(400)))
    (tmp_path / "s.yaml").write_text(SCENARIO)
    with JourneyServer() as server:
        spec = load_spec("smoke", server.url(""), tmp_path / "s.yaml", overrides={"vus": 10, "duration": "2s"})
        results = {}

        def shard(i):
            results[i] = run_load_test(spec.to_dict(), processes=2, shard_index=i, shard_count=2)

        threads = [threading.Thread(target=shard, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        log = list(server.log)
    logins = collections.Counter(json.loads(body)["user"] for _, path, _, body in log if path == "/login")
    assert logins == {f"vu-{n}": 1 for n in range(1, 11)}  # ten VUs over four parts, each number once
    rows = [path.split("row=")[1] for _, path, _, _ in log if path.startswith("/ok")]
    assert len(rows) > 100 and len(rows) == len(set(rows))  # no sequential row used twice
    merged = merge_results([results[0], results[1]])
    assert merged.health["processes"] == 4
    assert len(rows) - 10 <= merged.journey.iterations <= len(rows)  # a VU's last think may be cut by the end
