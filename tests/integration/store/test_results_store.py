import threading
from decimal import Decimal

import psycopg
import pytest

from include.perfpipe.store import ResultsStore
from include.perfpipe.store.migrations import load_migrations
from tests.unit.reporting import synthetic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(scratch_dsn):
    s = ResultsStore(scratch_dsn)
    s.migrate()
    return s


def _count(dsn, table, run_id):
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM perfpipe.{table} WHERE run_id = %s", (run_id,)).fetchone()[0]


def _run(run_id, verdict="pass", started="2026-11-27T11:00:00+00:00", target="demo"):
    return {
        "dag_id": "perf_load",
        "run_id": run_id,
        "profile": "smoke",
        "target": target,
        "version": "v1",
        "started_at": started,
        "ended_at": started,
        "verdict": verdict,
        "reason": "r",
    }


def test_migrate_is_idempotent_and_records_every_version(store, scratch_dsn):
    assert store.migrate() == []  # already applied by the fixture
    with psycopg.connect(scratch_dsn) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM perfpipe.schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in load_migrations()]


def test_concurrent_migrate_applies_once(scratch_dsn):
    errors = []

    def run():
        try:
            ResultsStore(scratch_dsn).migrate()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_edited_applied_migration_is_refused(scratch_dsn, tmp_path):
    from include.perfpipe.store.migrations import MIGRATIONS_DIR, apply_migrations

    for src in MIGRATIONS_DIR.glob("*.sql"):
        (tmp_path / src.name).write_text(src.read_text() + "\n-- edited\n")
    with psycopg.connect(scratch_dsn) as conn, pytest.raises(RuntimeError, match="changed after it was applied"):
        apply_migrations(conn, tmp_path)


def test_retried_stage_replaces_rows_never_doubles(store, scratch_dsn):
    part = synthetic.load_result()
    first = store.save_stage("perf_load", "retry-1", "loadtest", -1, part)
    counts = {t: _count(scratch_dsn, t, "retry-1") for t in ("endpoint_stats", "timeseries", "stage_writes")}
    assert counts["endpoint_stats"] == first["endpoint_stats"] > 0
    assert counts["timeseries"] == first["timeseries"] > 0
    store.save_stage("perf_load", "retry-1", "loadtest", -1, part)  # the retry
    assert {t: _count(scratch_dsn, t, "retry-1") for t in counts} == counts
    # another map index of the same run adds its own rows, the first shard stays
    store.save_stage("perf_load", "retry-1", "loadtest", 1, part)
    assert _count(scratch_dsn, "endpoint_stats", "retry-1") == 2 * counts["endpoint_stats"]


def test_concurrent_writers_of_one_key_leave_one_copy(store, scratch_dsn):
    part = synthetic.validation_result()
    threads = [
        threading.Thread(target=store.save_stage, args=("perf_load", "race", "validation", -1, part)) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _count(scratch_dsn, "validation_results", "race") == len(part["results"])


def test_failed_write_keeps_previous_rows(store, scratch_dsn):
    good = synthetic.database_result()
    store.save_stage("perf_load", "atomic", "database", -1, good)
    bad = synthetic.database_result()
    bad["findings"][1]["severity"] = "catastrophic"
    with pytest.raises(ValueError, match="severity.*catastrophic"):
        store.save_stage("perf_load", "atomic", "database", -1, bad)
    rows = store.stage_rows("perf_load", "atomic", "db_findings")
    assert [r["check_name"] for r in rows] == [f["check"] for f in good["findings"]]
    assert _count(scratch_dsn, "query_benchmark_stats", "atomic") > 0


def test_hostile_text_is_stored_verbatim(store):
    store.save_stage("perf_load", "hostile", "database", -1, synthetic.database_result())
    rows = store.stage_rows("perf_load", "hostile", "db_findings")
    assert synthetic.HOSTILE in rows[0]["sql"]
    assert rows[0]["evidence"] == {"seq_scans": 1200, "rows": 100000}


def test_save_run_upserts_and_history_has_headline(store):
    store.save_run(_run("h1", "pass", "2026-11-27T10:00:00+00:00", target="hist"))
    store.save_run(_run("h2", "fail", "2026-11-27T10:10:00+00:00", target="hist"))
    store.save_run({**_run("h2", "pass", "2026-11-27T10:10:00+00:00", target="hist"), "reason": "rerun"})
    store.save_stage("perf_load", "h2", "loadtest", -1, synthetic.load_result())
    hist = store.history("hist", "smoke", limit=20)
    assert list(hist["run_id"]) == ["h1", "h2"]  # oldest first, the upsert did not add a row
    h2 = hist.iloc[-1]
    assert h2["verdict"] == "pass" and h2["reason"] == "rerun"
    total = [r for r in store.stage_rows("perf_load", "h2", "endpoint_stats") if r["scope"] == "total"][0]
    assert (
        h2["requests"] == total["count"] and not isinstance(h2["requests"], Decimal) and h2["p95_ms"] == total["p95_ms"]
    )
    assert list(store.history("hist", "smoke", limit=1)["run_id"]) == ["h2"]


def test_class_history_has_one_row_per_run_and_class_oldest_first(store):
    for i, slow in enumerate((1.0, 2.0)):
        store.save_run(_run(f"c{i}", "pass", f"2026-11-27T08:0{i}:00+00:00", target="classes"))
        store.save_stage("perf_load", f"c{i}", "loadtest", -1, synthetic.load_result(slow=slow))
    store.save_stage("perf_load", "c1", "loadtest", -1, synthetic.load_result(slow=2.0))  # a retried write
    hist = store.class_history("classes", "smoke")
    stored = [r for r in store.stage_rows("perf_load", "c1", "endpoint_stats") if r["scope"] in ("class", "total")]
    assert list(hist["run_id"].drop_duplicates()) == ["c0", "c1"]
    assert sorted(hist[hist["run_id"] == "c1"]["class_name"]) == sorted(
        "all" if r["scope"] == "total" else r["class_name"] for r in stored
    )
    api = hist[hist["class_name"] == "api"].set_index("run_id")["p95_ms"]
    assert api["c1"] > api["c0"]


def test_baseline_explicit_else_last_passing(store):
    store.save_run(_run("b1", "pass", "2026-11-27T09:00:00+00:00", target="base"))
    store.save_run(_run("b2", "pass", "2026-11-27T09:10:00+00:00", target="base"))
    store.save_run(_run("b3", "fail", "2026-11-27T09:20:00+00:00", target="base"))
    assert store.baseline("base", "smoke")["run_id"] == "b2"
    store.mark_baseline("perf_load", "b1")
    assert store.baseline("base", "smoke")["run_id"] == "b1"
    store.mark_baseline("perf_load", "b2")  # moves, never two baselines
    hist = store.history("base", "smoke")
    assert list(hist[hist["is_baseline"]]["run_id"]) == ["b2"]
    assert store.baseline("nothing", "smoke") is None
    with pytest.raises(ValueError, match="run_id='missing'"):
        store.mark_baseline("perf_load", "missing")


@pytest.mark.parametrize(
    "run, message",
    [
        ({"run_id": "x", "profile": "p", "target": "t"}, "run.dag_id"),
        ({"dag_id": "d", "run_id": "x", "profile": "p", "target": "t", "verdict": "great"}, "run.verdict.*'great'"),
        (
            {"dag_id": "d", "run_id": "x", "profile": "p", "target": "t", "started_at": "yesterday"},
            "run.started_at.*'yesterday'",
        ),
    ],
)
def test_bad_run_is_rejected_naming_the_field(store, run, message):
    with pytest.raises(ValueError, match=message):
        store.save_run(run)


def test_run_frames_round_trip_the_load_test(store):
    from include.perfpipe.metrics import MetricsRecorder

    part = synthetic.load_result()
    store.save_stage("perf_load", "frames", "loadtest", -1, part)
    frames = store.run_frames("perf_load", "frames")
    recorder = MetricsRecorder.from_dict(part["metrics"])
    expected = recorder.stats_frame(part["duration_s"]).set_index(["scope", "name"])
    got = frames["stats"].set_index(["scope", "name"])
    assert (got.loc[expected.index, "count"] == expected["count"]).all()
    assert (got.loc[expected.index, "p95_ms"] == expected["p95_ms"]).all()
    assert len(frames["timeseries"]) == len(recorder.timeseries_frame())
    assert frames["stages"] == part["stages"]
    assert store.run_frames("perf_load", "no-such-run") is None


def test_comparison_chooses_the_baseline_among_runs_of_the_same_workload(store):
    from include.perfpipe.regression.baseline import find_baseline, shape_of
    from tests.unit.reporting.synthetic import load_result

    def save(run_id, duration_s, verdict="pass"):
        load = {
            **load_result(),
            "spec": {
                "model": "closed",
                "start": 1,
                "endpoints": [],
                "stages": [{"duration_s": duration_s, "target": 1}],
            },
        }
        run = {
            "dag_id": "perf_smoke",
            "run_id": run_id,
            "profile": "smoke",
            "target": "shape-target",
            "started_at": f"2026-11-2{len(run_id)}T10:00:00+00:00",
        }
        store.save_bundle({"run": run, "loadtest": load}, verdict, "", shape=shape_of(load))
        return run, load

    save("long60", 60)
    store.mark_baseline("perf_smoke", "long60")
    save("short20", 20)
    run, load = save("current20", 20)
    chosen = find_baseline(store, run, shape_of(load))
    assert chosen["baseline"]["run_id"] == "short20" and chosen["baseline"]["duration_s"] == load["duration_s"]
    assert "the marked baseline has a different stage plan" in chosen["baseline_note"]
    other = find_baseline(store, {**run, "run_id": "other"}, shape_of({"spec": {"model": "open", "stages": []}}))
    assert other["baseline"] is None and other["baseline_note"].startswith(
        "no comparable baseline: the 2 earlier"
    )  # current20 started with it, not before
