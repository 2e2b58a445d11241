import pytest
from hdrh.histogram import HdrHistogram

from include.perfpipe.metrics import new_histogram
from include.perfpipe.validation.windows import check_stages, steady_seconds, window_frame
from tests.unit.validation.synthetic import STAGES, record_run


def slow_ramp_up(class_name, t, i):
    return 0.4 if t < 30 else 0.02


@pytest.fixture(scope="module")
def recorder():
    return record_run(slow_ramp_up, classes=("api", "health"))


@pytest.fixture(scope="module")
def frame(recorder):
    return window_frame(
        recorder.stats_frame(120),
        recorder.timeseries_frame(),
        windows={"whole", "steady", "rolling_30s", "second"},
        stages=STAGES,
        recorder=recorder,
    )


def merged(recorder, class_name, seconds):
    """Independent reference: merge the window's histograms with hdrh itself."""
    hist = new_histogram(2)
    for (t, k, _), bucket in recorder.seconds.items():
        if t in seconds and (k == class_name or class_name == "all"):
            hist.add(HdrHistogram.decode(bucket.encoded.encode("ascii")))
    return hist


def merged_p95_ms(recorder, class_name, seconds):
    hist = merged(recorder, class_name, seconds)
    return hist.get_value_at_percentile(95) / 1000.0, hist.get_total_count()


def one(frame, **match):
    rows = frame
    for key, value in match.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, match
    return rows.iloc[0]


def test_steady_seconds_are_the_hold_stages_only():
    assert steady_seconds(STAGES) == list(range(30, 90))
    assert steady_seconds([{"start_s": 0.5, "end_s": 3.2, "kind": "hold"}]) == [1, 2]
    assert steady_seconds([{"start_s": 0, "end_s": 60, "kind": "ramp"}]) == []


def test_steady_window_excludes_the_slow_ramp(frame):
    steady = one(frame, window="steady", class_name="api")
    whole = one(frame, window="whole", scope="class", class_name="api")
    assert (steady.start_s, steady.end_s, steady["count"]) == (30, 90, 60 * 20)
    assert steady.p95_ms < 30 and whole.p95_ms > 300


def test_window_percentiles_are_exact_merges_of_the_second_histograms(recorder, frame):
    steady = one(frame, window="steady", class_name="api")
    assert (steady.p95_ms, steady["count"]) == merged_p95_ms(recorder, "api", set(range(30, 90)))
    rolling = frame[(frame["window"] == "rolling_30s") & (frame["class_name"] == "api")]
    assert list(rolling["start_s"]) == list(range(0, 91))
    for start in (0, 17, 45, 90):
        row = rolling[rolling["start_s"] == start].iloc[0]
        assert (row.p95_ms, row["count"]) == merged_p95_ms(recorder, "api", set(range(start, start + 30)))


def test_every_latency_figure_matches_the_hdr_merge(recorder, frame):
    for class_name in ("api", "all"):
        row = one(frame, window="rolling_30s", class_name=class_name, start_s=12)
        hist = merged(recorder, class_name, set(range(12, 42)))
        for col, p in {"p50_ms": 50, "p90_ms": 90, "p99_ms": 99, "p999_ms": 99.9}.items():
            assert row[col] == hist.get_value_at_percentile(p) / 1000.0, (class_name, col)
        assert row.max_ms == hist.get_max_value() / 1000.0
        assert row.mean_ms == pytest.approx(hist.get_mean_value() / 1000.0, abs=0.001)


def test_total_rows_merge_all_classes(frame):
    total = one(frame, window="rolling_30s", class_name="all", start_s=40)
    per_class = frame[(frame["window"] == "rolling_30s") & (frame["start_s"] == 40) & (frame["class_name"] != "all")]
    assert total["count"] == per_class["count"].sum() and total.peak_vus == 10


def test_second_window_is_the_timeseries(recorder, frame):
    seconds = frame[frame["window"] == "second"]
    assert len(seconds) == len(recorder.timeseries_frame())
    row = one(frame, window="second", class_name="api", start_s=5)
    assert (row.end_s, row["count"], row.error_rate) == (6, 20, 0.0)


def test_without_a_recorder_only_frame_windows_are_built(recorder):
    frame = window_frame(
        recorder.stats_frame(120),
        recorder.timeseries_frame(),
        windows={"whole", "steady"},
        stages=STAGES,
        recorder=None,
    )
    assert set(frame["window"]) == {"whole"}


def test_db_stats_rows_join_the_whole_window_without_their_total(recorder):
    db = record_run(lambda k, t, i: 0.01, classes=("db",))
    frame = window_frame(
        recorder.stats_frame(120),
        recorder.timeseries_frame(),
        windows={"whole"},
        stages=STAGES,
        recorder=recorder,
        db_stats=db.stats_frame(120),
    )
    assert len(frame[frame["class_name"] == "db"]) == 2  # the endpoint (query) row and the class row
    assert len(frame[frame["scope"] == "total"]) == 1


@pytest.mark.parametrize(
    "stages, message",
    [
        ([{"start_s": 0, "end_s": 10, "kind": "plateau"}], "stages[0].kind: expected 'ramp' or 'hold', got 'plateau'"),
        (
            [{"start_s": 0, "end_s": 10, "kind": "hold"}, {"start_s": "x", "end_s": 1, "kind": "hold"}],
            "stages[1].start_s: expected seconds >= 0, got 'x'",
        ),
        ([{"start_s": 5, "end_s": 1, "kind": "hold"}], "stages[0].end_s: 1 is before start_s 5"),
        ("hold", "stages: expected a list"),
    ],
)
def test_bad_stages_are_named(stages, message):
    with pytest.raises(ValueError) as info:
        check_stages(stages)
    assert str(info.value).startswith(message)


def test_frames_missing_columns_are_named(recorder):
    with pytest.raises(ValueError, match="stats: missing columns p95_ms"):
        window_frame(
            recorder.stats_frame(120).drop(columns=["p95_ms"]),
            recorder.timeseries_frame(),
            windows={"whole"},
            stages=STAGES,
            recorder=None,
        )


def test_a_run_shorter_than_the_rolling_window_is_one_window():
    from include.perfpipe.metrics import MetricsRecorder

    short = MetricsRecorder()
    for t in range(5):
        short.record("a", "api", 0.01 * (t + 1), True, 200, t + 0.5)
    frame = window_frame(
        short.stats_frame(5), short.timeseries_frame(), windows={"rolling_30s"}, stages=[], recorder=short
    )
    row = one(frame, class_name="api")
    assert (row.start_s, row.end_s, row["count"], row.rps) == (0, 5, 5, 1.0)
