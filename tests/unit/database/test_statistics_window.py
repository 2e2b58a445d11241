"""The statistics window starts at the latest of reset, server start and database creation; the creation stamp
has whole seconds only, so a database created in the server's first second still counts from its creation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from include.perfpipe.database.statistics import statistics_since

START = datetime(2026, 12, 7, 6, 0, 0, 400_000, tzinfo=UTC)


class _Rows:
    def __init__(self, row: dict) -> None:
        self._row = row

    def fetchone(self) -> dict:
        return self._row


class _Connection:
    """Answers the two queries statistics_since sends: the window row, then the creation stamp."""

    def __init__(self, window: dict, created: datetime) -> None:
        self._answers = [window, {"t": created}]

    def execute(self, _query: str) -> _Rows:
        return _Rows(self._answers.pop(0))


def _window(now: datetime, stats_reset: datetime | None = None) -> dict:
    return {"now": now, "stats_reset": stats_reset, "server_start": START, "may_stat_files": True}


def test_a_database_created_in_the_servers_first_second_counts_from_its_creation():
    created_stamp = START.replace(microsecond=0)  # created at 06:00:00.7, stamped 06:00:00
    window = statistics_since(_Connection(_window(START + timedelta(minutes=5)), created_stamp))
    assert window["source"] == "database created"
    assert window["since"] == created_stamp + timedelta(seconds=1)
    assert window["age_s"] == 299.4


def test_a_database_older_than_the_server_counts_from_the_servers_start():
    window = statistics_since(_Connection(_window(START + timedelta(hours=1)), START - timedelta(days=3)))
    assert (window["source"], window["since"], window["age_s"]) == ("server start", START, 3600.0)


def test_a_database_created_this_instant_is_never_dated_after_now():
    now = START + timedelta(seconds=5, microseconds=100_000)
    window = statistics_since(_Connection(_window(now), now.replace(microsecond=0)))
    assert (window["source"], window["since"], window["age_s"]) == ("database created", now, 0.0)
