import pytest

from include.perfpipe.store.migrations import MIGRATIONS_DIR, load_migrations
from include.perfpipe.store.results_store import _key
from include.perfpipe.store.rows import stage_rows
from include.perfpipe.vocabulary import libpq_dsn
from tests.unit.reporting import synthetic


def test_loadtest_rows_match_the_recorder_frames():
    part = synthetic.load_result(seconds=12)
    tables, summary = stage_rows("loadtest", part)
    total = [r for r in tables["endpoint_stats"] if r["scope"] == "total"][0]
    assert total["count"] == sum(e["count"] for e in part["metrics"]["endpoints"])
    assert {r["t"] for r in tables["timeseries"]} == set(range(12))
    assert summary["duration_s"] == 12.0 and summary["aborted"] is False


def test_database_rows_keep_order_and_benchmark():
    tables, summary = stage_rows("database", synthetic.database_result())
    assert [r["severity"] for r in tables["db_findings"]] == ["critical", "warning", "info"]
    assert tables["query_benchmark_stats"][0]["class_name"] == "db"
    assert summary["statements_delta"][0]["calls"] == 50


@pytest.mark.parametrize(
    "stage, part, message",
    [
        ("loadtest", {"metrics": {}}, "missing field 'duration_s'"),
        ("loadtest", {"metrics": {}, "duration_s": "long"}, "duration_s must be a number, got 'long'"),
        ("validation", {"verdict": "pass", "results": [{"success": "yes"}]}, r"results\[0\].success.*'yes'"),
        (
            "validation",
            {"verdict": "pass", "results": [{"success": True, "threshold": "fast"}]},
            r"results\[0\].threshold.*'fast'",
        ),
        ("perf", {}, "stage must be one of.*'perf'"),
    ],
)
def test_bad_parts_name_the_field(stage, part, message):
    with pytest.raises(ValueError, match=message):
        stage_rows(stage, part)


@pytest.mark.parametrize(
    "args, message",
    [
        (("d", "r", "load", 0), "stage.*'load'"),
        (("d", "r", "loadtest", -2), "map_index.*-2"),
        (("d", "", "loadtest", 0), "run_id.*''"),
    ],
)
def test_bad_keys_name_the_field(args, message):
    with pytest.raises(ValueError, match=message):
        _key(*args)


def test_migration_files_are_versioned(tmp_path):
    assert [m.version for m in load_migrations()] == list(range(1, len(list(MIGRATIONS_DIR.glob("*.sql"))) + 1))
    (tmp_path / "2_bad.sql").write_text("select 1")
    with pytest.raises(ValueError, match="'2_bad.sql'"):
        load_migrations(tmp_path)


def test_sqlalchemy_style_urls_become_libpq_urls():
    assert libpq_dsn("postgresql+psycopg://u@h:5432/d") == "postgresql://u@h:5432/d"
    assert libpq_dsn("postgres+psycopg2://u@h/d") == "postgresql://u@h/d"
    assert libpq_dsn("host=h dbname=d") == "host=h dbname=d"
