"""Feeders: sequential rows are unique across parts, random and circular never run out."""

import pytest

from include.perfpipe.loadtest.journey.feeders import Feeder, FeederExhausted, columns, read_rows

ROWS = [{"n": str(i)} for i in range(10)]


def _drain(feeder):
    taken = []
    while True:
        try:
            taken.append(feeder.next_row()["n"])
        except FeederExhausted:
            return taken


def test_sequential_rows_are_split_over_parts_without_overlap():
    parts = [_drain(Feeder(ROWS, "sequential", "stop", part, 4)) for part in range(4)]
    used = [n for part in parts for n in part]
    assert sorted(used, key=int) == [r["n"] for r in ROWS] and len(used) == len(set(used))
    assert parts[1] == ["1", "5", "9"]


def test_recycle_starts_the_part_again_and_circular_wraps():
    feeder = Feeder(ROWS, "sequential", "recycle", 1, 4)
    assert [feeder.next_row()["n"] for _ in range(5)] == ["1", "5", "9", "1", "5"]
    circular = Feeder(ROWS[:3], "circular", "stop", 0, 1)
    assert [circular.next_row()["n"] for _ in range(5)] == ["0", "1", "2", "0", "1"]
    assert {Feeder(ROWS, "random").next_row()["n"] for _ in range(200)} <= {r["n"] for r in ROWS}


def test_a_part_beyond_the_rows_has_none():
    with pytest.raises(FeederExhausted):
        Feeder(ROWS[:2], "sequential", "recycle", 3, 4).next_row()


def test_csv_and_json_files(tmp_path):
    (tmp_path / "u.csv").write_text("user,password\nalice,a1\nbob,b2\n")
    (tmp_path / "u.json").write_text('[{"user": "alice", "id": 1}, {"user": "bob", "id": 2}]')
    assert read_rows(tmp_path / "u.csv")[1] == {"user": "bob", "password": "b2"}
    assert columns(read_rows(tmp_path / "u.json")) == {"user", "id"}


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("bad.csv", "a,b\n1\n", "more or fewer fields"),
        ("empty.csv", "a,b\n", "has no rows"),
        ("bad.json", "{", "is not JSON"),
        ("obj.json", '{"a": 1}', "list of objects"),
        ("rows.txt", "x", "expected a .csv or .json"),
    ],
)
def test_bad_feeder_files_name_the_file(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=f"feeders.users.file: .*{name}.*{message}|{message}"):
        read_rows(tmp_path / name, "feeders.users")
    with pytest.raises(ValueError, match="cannot read"):
        read_rows(tmp_path / "missing.csv")
