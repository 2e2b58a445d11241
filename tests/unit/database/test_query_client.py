"""The DB query client on the load engine, without a database: its spec (typed, validated, no HTTP target),
its executors, and the one set of health rules it shares with the HTTP generator."""

import pytest

from include.perfpipe.database.query_client import (
    QuerySpec,
    query_executor,
    query_generator,
    with_connections,
)
from include.perfpipe.loadtest.clients.endpoints import FlatEndpoints
from include.perfpipe.loadtest.contract import Endpoint, LoadSpec
from include.perfpipe.loadtest.engine.generator import LoadGenerator
from include.perfpipe.loadtest.executors.arrival_loop import ArrivalLoop
from include.perfpipe.loadtest.executors.vu_lifecycle import VULifecycle
from include.perfpipe.metrics import new_histogram

QUERIES = [{"name": "one", "sql": "SELECT 1", "weight": 1}]


def lag_of(ms: float):
    histogram = new_histogram()
    for _ in range(100):
        histogram.record_value(int(ms * 1000))
    return histogram


def db_process(rate=None, connections=4):
    spec = QuerySpec.of(query_executor(connections, 1.0, rate), QUERIES, connections)
    return query_generator(spec, "postgresql://nobody@127.0.0.1:1/none")


def http_process(open_model: bool):
    stages = [{"duration_s": 1.0, "target": 40.0 if open_model else 4.0}]
    spec = LoadSpec(
        target="http://127.0.0.1:1/",
        model="open" if open_model else "closed",
        stages=stages,
        endpoints=[Endpoint(name="GET /", url="http://127.0.0.1:1/")],
        start=stages[0]["target"],
        max_vus=4,
    )
    return FlatEndpoints(spec)


def health_of(process, lag_ms: float, cpu: float, dropped: int = 0):
    process.lag, process.dropped = lag_of(lag_ms), dropped
    return process.health(cpu, start_delay=0.0)


def test_rate_is_a_constant_arrival_rate_and_no_rate_constant_vus():
    closed, open_ = db_process(), db_process(rate=40)
    assert isinstance(closed.executor, VULifecycle) and isinstance(open_.executor, ArrivalLoop)
    assert isinstance(closed, LoadGenerator)  # the engine's load generator runs it
    assert (closed.spec.executor, closed.spec.model, closed.spec.max_vus) == ("constant_vus", "closed", 4)
    assert (open_.spec.executor, open_.spec.model, open_.spec.max_vus, open_.spec.rate) == (
        "constant_arrival_rate",
        "open",
        4,
        40,
    )
    assert open_.spec.level_at(0.5) == 40 and closed.spec.level_at(0.5) == 4
    assert closed.spec.stage_windows() == [{"start_s": 0.0, "end_s": 1.0, "kind": "hold"}]


def test_the_connection_cap_lowers_the_executors_connections():
    assert with_connections(query_executor(100, 1.0), 87).plan().max_vus == 87
    assert with_connections(query_executor(100, 1.0, rate=5), 87).plan().max_vus == 87


def test_the_spec_is_a_db_run_without_http_target_or_allowlist():
    spec = db_process().spec.to_dict()
    assert spec["kind"] == "db" and spec["duration_s"] == 1.0 and spec["queries"] == QUERIES
    assert not {"endpoints", "allowlist", "journey", "secret_headers", "verify_tls"} & set(spec)
    fields = {k: v for k, v in spec.items() if k != "duration_s"}  # derived from the stages
    assert QuerySpec(**fields) == db_process().spec
    with pytest.raises(TypeError, match="allowlist"):
        QuerySpec(**fields, allowlist=["127.0.0.1"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 1.0, None), "connections: must be an integer >= 1, got 0"),
        ((True, 1.0, None), "connections: must be an integer >= 1, got True"),
        ((2, 0, None), "duration_s: must be a number > 0, got 0"),
        ((2, 1.0, -5), "rate: must be a number > 0, got -5"),
        ((2, 1.0, float("nan")), "rate: must be a number > 0, got nan"),
    ],
)
def test_bad_load_is_refused_naming_field_and_value(args, message):
    with pytest.raises(ValueError, match=message):
        query_executor(*args)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "http"}, "kind: a QuerySpec is a DB run, kind 'db', got 'http'"),
        ({"model": "scenarios"}, "model: expected one of"),
        ({"queries": []}, r"queries: expected a list of at least one query, got \[\]"),
        ({"queries": ["SELECT 1"]}, r"queries\[0\]: expected \{name, sql, weight\}"),
        ({"read_only": "yes"}, "read_only: expected true or false, got 'yes'"),
        ({"statement_timeout_s": 0}, "statement_timeout_s: must be a number > 0, got 0"),
        ({"max_vus": 0}, "max_vus: must be an integer >= 1, got 0"),
    ],
)
def test_a_bad_spec_is_refused_naming_field_and_value(change, message):
    fields = {k: v for k, v in db_process().spec.to_dict().items() if k != "duration_s"}
    with pytest.raises(ValueError, match=message):
        QuerySpec(**{**fields, **change})


def test_back_to_back_at_full_cpu_with_a_prompt_loop_is_valid_and_noted():
    health = health_of(db_process(), 0.4, cpu=99.0)
    assert not health["saturated"] and health["reasons"] == []
    assert health["notes"] == [
        "generator CPU 99% at or above 95%: q/s is the generator's ceiling, a floor of the target's"
    ]


def test_paced_at_full_cpu_is_saturated():
    health = health_of(db_process(rate=40), 0.4, cpu=99.0)
    assert health["saturated"] and "could not hold the rate" in health["reasons"][0]
    assert not health["cpu_bound"]


@pytest.mark.parametrize("rate", [None, 40])
def test_a_lagging_loop_a_lost_connection_or_a_dropped_query_is_saturated_either_way(rate):
    assert health_of(db_process(rate=rate), 80, cpu=20.0)["saturated"]
    lost = db_process(rate=rate)
    lost.lost = 1
    assert health_of(lost, 0.4, cpu=20.0)["reasons"] == ["1 connection(s) lost during the run"]
    dropped = health_of(db_process(rate=rate), 0.4, cpu=20.0, dropped=3)
    assert dropped["saturated"] and dropped["dropped"] == 3
    assert dropped["reasons"] == [
        "3 queries dropped: all 4 connections of this generator were busy (raise connections or lower the rate)"
    ]


def test_a_vu_that_crashed_is_a_reason_of_the_db_client_too():
    crashed = db_process()
    crashed.crashed["RuntimeError"] = 2
    assert health_of(crashed, 0.4, cpu=20.0)["reasons"] == [
        "2 VU(s) stopped on an unexpected RuntimeError (logged): fewer VUs than asked"
    ]


def test_an_idle_client_has_nothing_to_say():
    health = health_of(db_process(), 0.4, cpu=30.0)
    assert (health["saturated"], health["reasons"], health["notes"]) == (False, [], [])


@pytest.mark.parametrize(
    ("lag_ms", "cpu", "open_model"),
    [(0.4, 99.0, False), (0.4, 99.0, True), (80, 20.0, False), (80, 20.0, True), (0.4, 30.0, True)],
)
def test_one_health_rule_set_for_the_db_client_and_the_http_generator(lag_ms, cpu, open_model):
    """The same figures get the same verdict from both clients; only the throughput's unit differs."""
    db = health_of(db_process(rate=40 if open_model else None), lag_ms, cpu)
    http = health_of(http_process(open_model), lag_ms, cpu)
    assert db["notes"] == [note.replace("req/s", "q/s") for note in http["notes"]]
    assert {**db, "notes": None} == {**http, "notes": None}
