from __future__ import annotations

import datetime as dt
import decimal
import re

import pytest

from include.perfpipe.database.config import DEFAULT_THRESHOLDS, load_config
from include.perfpipe.database.connection import connect, redact
from include.perfpipe.database.findings import finding, jsonable
from include.perfpipe.durations import parse_duration


def test_defaults_are_the_pghero_and_check_postgres_values():
    cfg = load_config()
    assert cfg["index_use_min_pct"] == 95 and cfg["seq_scan_min_rows"] == 10_000
    assert cfg["slow_query_mean_ms"] == 20 and cfg["slow_query_min_calls"] == 100
    assert cfg["xid_age_warning"] == 1_300_000_000 and cfg["xid_age_critical"] == 1_400_000_000
    assert cfg["sequence_warning_pct"] == 85 and cfg["sequence_critical_pct"] == 95
    assert cfg["stale_vacuum_days"] == 1 and cfg["stale_analyze_days"] == 2


def test_overrides_from_dict_and_yaml_section(tmp_path):
    assert load_config({"long_running_s": 5})["long_running_s"] == 5
    path = tmp_path / "t.yaml"
    path.write_text("database:\n  cache_hit_min_pct: 95\nother: {}\n")
    cfg = load_config(path)
    assert cfg["cache_hit_min_pct"] == 95 and cfg["long_running_s"] == DEFAULT_THRESHOLDS["long_running_s"]


@pytest.mark.parametrize(
    "config, message",
    [
        ({"long_runing_s": 5}, "unknown database threshold 'long_runing_s'"),
        ({"long_running_s": -1}, "'long_running_s' must be a number >= 0 (got a number)"),
        ({"long_running_s": "1m"}, "'long_running_s' must be a number >= 0 (got a string)"),
        ({"long_running_s": True}, "'long_running_s' must be a number >= 0 (got true/false)"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_bad_config_names_field_and_kind_of_value(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_config(config)


def test_unreadable_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("database: [unclosed\n")
    with pytest.raises(ValueError, match="broken.yaml"):
        load_config(path)


def test_finding_shape_and_json_safe_evidence():
    f = finding(
        "x",
        "warning",
        "public.t",
        {
            "at": dt.datetime(2026, 1, 2, 3, 4, 5),
            "n": decimal.Decimal("1.5"),
            "age": dt.timedelta(seconds=90),
            "nested": [{"d": dt.date(2026, 1, 1)}],
        },
        "do it",
        "SELECT 1",
    )
    assert list(f) == ["check", "severity", "object", "evidence", "recommendation", "sql"]
    assert f["evidence"] == {"at": "2026-01-02T03:04:05", "n": 1.5, "age": 90.0, "nested": [{"d": "2026-01-01"}]}
    with pytest.raises(ValueError, match="severity"):
        finding("x", "bad", "o", {}, "r")
    assert jsonable({1: (2, 3)}) == {"1": [2, 3]}


def test_passwords_are_redacted():
    assert redact("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("host=h password=secret dbname=d") == "host=h password=*** dbname=d"


def test_empty_dsn_is_a_named_error():
    with pytest.raises(ValueError, match="dsn"):
        connect("")
    with pytest.raises(ValueError, match="dsn: invalid connection string"):
        connect("host=h nonsense_option=1")


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("2m", 120), ("1h", 3600), ("500ms", 0.5), ("7", 7)])
def test_parse_duration(text, seconds):
    assert parse_duration(text, "--duration", positive=True) == seconds


@pytest.mark.parametrize("text", ["", "0s", "fast", "-3s", "3d"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="--duration"):
        parse_duration(text, "--duration", positive=True)


@pytest.mark.parametrize(
    "dsn, secret",
    [
        ("postgresql://u:p%zzs3cret@127.0.0.1/db", "zzs3cret"),  # libpq quotes the bad %-token
        ("host=127.0.0.1 password='se cr%et' user=u dbname=x bogus", "cr%et"),  # a quoted value's tail
        ("host=127.0.0.1 password=s'3cret' oops", "3cret"),
    ],
)
def test_a_password_libpq_quotes_in_its_error_is_redacted(dsn, secret):
    with pytest.raises(ValueError) as caught:
        connect(dsn)
    assert secret not in str(caught.value) and "***" in str(caught.value)
