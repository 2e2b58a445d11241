"""Named scenarios side by side, each with its own executor, against a server counting requests by tag."""

import collections

import pytest

from include.perfpipe.loadtest.run import run_load_test
from include.perfpipe.loadtest.spec import load_spec
from tests.busy_machine import only_busy_machine
from tests.unit.loadtest.server import LoopbackServer

SCENARIOS = """
scenarios:
  browse:
    executor: ramping_vus
    start_vus: 2
    stages: [{duration: 2s, target: 2}]
    think_time: 50ms
    headers: {X-Tag: browse}
    tags: {flow: browse}
    journey:
      steps: [{name: list, path: /ok, group: catalog}]
  checkout:
    executor: shared_iterations
    vus: 3
    iterations: 25
    max_duration: 10s
    headers: {X-Tag: checkout}
    journey:
      steps:
        - {name: cart, path: /ok, group: pay}
        - {name: pay, path: /ok, group: pay, tags: {money: "yes"}}
  signup:
    executor: per_vu_iterations
    vus: 3
    iterations: 4
    start_time: 500ms
    headers: {X-Tag: signup}
    endpoints: [{name: register, path: /ok}]
  probes:
    executor: constant_arrival_rate
    rate: 20
    duration: 2s
    max_vus: 4
    headers: {X-Tag: probes}
    endpoints: [{name: health, path: /ok, class: health}]
"""


class TaggedServer(LoopbackServer):
    """Counts requests by their X-Tag header."""

    def __init__(self) -> None:
        super().__init__()
        self.by_tag: collections.Counter = collections.Counter()

    async def _respond(self, path, writer, head, body):
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"x-tag:"):
                self.by_tag[line.split(b":", 1)[1].strip().decode()] += 1
        return await super()._respond(path, writer, head, body)


@pytest.fixture
def server():
    with TaggedServer() as srv:
        yield srv


def test_four_scenarios_with_their_own_executors_across_two_processes(server, tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text(SCENARIOS)
    spec = load_spec("smoke", server.url(""), path, overrides={"circuit_breaker": {}})
    result = run_load_test(spec, processes=2)
    counts, series = server.by_tag, result.timeseries_frame()
    assert counts["checkout"] == 25 * 2  # shared iterations: exactly once in all, over both processes
    assert counts["signup"] == 3 * 4  # per-VU iterations: VUs x N
    probes = series[(series["scenario"] == "probes") & (series["class_name"] == "all")]
    assert counts["probes"] + probes["dropped"].sum() == 40  # 20/s for 2 s: each sent, or dropped and counted
    # none dropped: 2 connections a process carry 10/s each, unless the machine held a loop up (reported)
    assert probes["dropped"].sum() == 0 or any(only_busy_machine(reason) for reason in result.health["reasons"])
    browse = series[(series["scenario"] == "browse") & (series["class_name"] == "all") & (series["requests"] > 0)]
    assert {0, 1} <= set(browse["t"]) and counts["browse"] <= 2 * 2 / 0.05 + 2  # 2 VUs for 2 s, 50 ms think time
    stats = result.stats_frame()
    rows = {(r["scope"], r["scenario"], r["name"]): r for r in stats.to_dict("records")}
    for scenario in ("browse", "checkout", "signup", "probes"):
        assert rows[("scenario", scenario, scenario)]["count"] == counts[scenario]
    assert rows[("group", "checkout", "pay")]["count"] == 50
    assert rows[("tag", "all", "money=yes")]["count"] == 25
    assert rows[("tag", "all", "flow=browse")]["count"] == counts["browse"]
    assert 2.0 <= result.duration_s < 10  # the 2 s scenarios', not checkout's 10 s limit
    assert rows[("scenario", "probes", "probes")]["rps"] == pytest.approx(counts["probes"] / result.duration_s)
    assert result.metrics.iterations["checkout"] == 25 and result.metrics.iterations["signup"] == 12
    signup = series[(series["scenario"] == "signup") & (series["class_name"] == "all") & (series["requests"] > 0)]
    assert signup["t"].min() >= 0  # started after its start_time, recorded on the run's clock
    assert result.health["processes"] == 2
