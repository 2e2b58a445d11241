import json
import textwrap

import pytest

from include.perfpipe.errors import ConfigError
from include.perfpipe.validation import ThresholdConfigError, Thresholds, load_thresholds


def rules_of(thresholds, class_name, metric):
    return [r for r in thresholds.rules if r.class_name == class_name and r.metric == metric]


def write(tmp_path, text, name="thresholds.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


MINIMAL = """
    classes: [api, search]
    suites:
      latency:
        windows: [whole, steady]
        thresholds:
          api: {p95_ms: "< 500ms"}
          search: {p95_ms: "< 1s"}
      capacity:
        profiles: [load]
        windows: [steady]
        thresholds:
          all: {rps: ">= 1000/s"}
    profiles:
      load: {api: {p95_ms: "< 700ms"}}
    targets:
      "127.0.0.1:9000": {search: {p95_ms: "< 2s"}}
"""


def test_seed_targets_load_from_the_default_file():
    t = load_thresholds(profile="capacity")
    limits = {(r.class_name, r.metric): (r.operator, r.limit) for r in t.rules}
    assert limits[("health", "p95_ms")] == ("<", 100.0)
    assert limits[("api", "p99_ms")] == ("<", 1000.0)
    assert limits[("tool", "p99_ms")] == ("<", 5000.0)
    assert limits[("db", "p99_ms")] == ("<", 500.0)
    assert limits[("all", "error_rate")] == ("<", 0.01)
    assert limits[("all", "rps")] == (">=", 1000.0)
    assert limits[("all", "peak_vus")] == (">=", 500.0)
    assert limits[("db", "peak_vus")] == (">=", 100.0)
    assert "rolling_30s" in rules_of(t, "api", "p95_ms")[0].windows


def test_smoke_profile_does_not_demand_capacity():
    smoke = load_thresholds(profile="smoke")
    assert not rules_of(smoke, "all", "rps") and not rules_of(smoke, "all", "peak_vus")
    assert any(s.startswith("capacity") for s in smoke.skipped_suites)
    assert rules_of(load_thresholds(profile="load"), "all", "rps")


def test_profile_target_and_run_overrides_apply_in_order(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert rules_of(load_thresholds(path), "api", "p95_ms")[0].limit == 500.0
    assert rules_of(load_thresholds(path, profile="load"), "api", "p95_ms")[0].limit == 700.0
    run = load_thresholds(path, profile="load", overrides={"api": {"p95_ms": 300}})
    assert rules_of(run, "api", "p95_ms")[0].limit == 300.0
    by_url = load_thresholds(path, target="http://127.0.0.1:9000")
    assert rules_of(by_url, "search", "p95_ms")[0].limit == 2000.0


def test_override_forms_flat_nested_json_removal_and_new_rules(tmp_path):
    path = write(tmp_path, MINIMAL)
    t = load_thresholds(
        path,
        overrides=json.dumps(
            {
                "api.p95_ms": {"limit": "< 250ms", "windows": ["rolling_1m"], "abort_on_fail": True},
                "search": {"p95_ms": None},
                "all": {"error_rate": "0.5%"},
            }
        ),
    )
    api = rules_of(t, "api", "p95_ms")[0]
    assert (api.limit, api.windows, api.abort_on_fail) == (250.0, ("rolling_60s",), True)
    assert not rules_of(t, "search", "p95_ms")
    added = rules_of(t, "all", "error_rate")[0]
    assert (added.suite, added.limit, added.windows) == ("overrides", 0.005, ("whole", "steady"))


def test_abort_rules_shape():
    rules = load_thresholds(overrides={"api": {"p95_ms": {"limit": "< 300ms", "abort_on_fail": True}}}).abort_rules()
    api = [r for r in rules if r["class_name"] == "api"]
    assert {r["window"]: r["window_s"] for r in api} == {"whole": None, "steady": None, "rolling_30s": 30}
    assert api[0] | {"window": None, "window_s": None} == {
        "suite": "latency",
        "class_name": "api",
        "metric": "p95_ms",
        "operator": "<",
        "limit": 300.0,
        "window": None,
        "window_s": None,
        "delay_s": 30,
    }
    assert any(r["metric"] == "error_rate" for r in rules)


def test_round_trips_through_json():
    t = load_thresholds(profile="load", target="demo")
    assert Thresholds.from_dict(json.loads(json.dumps(t.to_dict()))) == t


def error_of(tmp_path, text=None, **kwargs) -> ThresholdConfigError:
    path = write(tmp_path, text) if text is not None else None
    with pytest.raises(ThresholdConfigError) as info:
        load_thresholds(path, **kwargs)
    assert isinstance(info.value, ValueError)
    return info.value


def test_malformed_yaml_names_file_and_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_thresholds(write(tmp_path, "suites:\n  latency: {windows: [whole\n"))
    assert str(info.value).startswith(f"{tmp_path / 'thresholds.yaml'}: not valid YAML at line 3, column 1")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_thresholds(tmp_path / "nope.yaml")
    assert info.value.file == str(tmp_path / "nope.yaml") and "cannot read" in str(info.value)


@pytest.mark.parametrize(
    "text, field, value, fragment",
    [
        (
            "classes: [api]\nsuites: {s: {thresholds: {apii: {p95_ms: 1}}}}",
            "suites.s.thresholds.apii",
            "apii",
            "unknown class",
        ),
        (
            "classes: [api]\nsuites: {s: {thresholds: {api: {p95_ms: 100 mins}}}}",
            "suites.s.thresholds.api.p95_ms",
            "100 mins",
            "unknown unit",
        ),
        (
            "classes: [api]\nsuites: {s: {windows: [whole, hourly], thresholds: {api: {p95_ms: 1}}}}",
            "suites.s.windows[1]",
            "hourly",
            "unknown window",
        ),
        (
            "classes: [api]\nsuites: {s: {thresholds: {api: {p97_ms: 1}}}}",
            "suites.s.thresholds.api.p97_ms",
            "p97_ms",
            "unknown metric",
        ),
        (
            "classes: [api]\nsuites: {s: {windows: [second], thresholds: {api: {p90_ms: 1}}}}",
            "suites.s.thresholds.api.p90_ms",
            "p90_ms",
            "per-second window",
        ),
        (
            "classes: [api]\nsuites: {s: {thresholds: {api: {p95_ms: {limit: 1, abort: true}}}}}",
            "suites.s.thresholds.api.p95_ms.abort",
            "abort",
            "unknown key",
        ),
        ("classes: [api]\nsuite: {}", "suite", "suite", "unknown key"),
        (
            "classes: [api]\nrolling_window: 2 weeks\nsuites: {s: {thresholds: {api: {p95_ms: 1}}}}",
            "rolling_window",
            "2 weeks",
            "duration",
        ),
    ],
)
def test_config_errors_name_file_field_and_line_not_the_value(tmp_path, text, field, value, fragment):
    err = error_of(tmp_path, text)
    assert (err.source, err.field, err.value) == (str(tmp_path / "thresholds.yaml"), field, value)
    assert fragment in str(err) and field in str(err) and "line " in str(err) and repr(value) not in str(err)


@pytest.mark.parametrize(
    "overrides, field, value",
    [
        ({"apx": {"p95_ms": 1}}, "overrides.apx", "apx"),
        ({"api": {"p95": 1}}, "overrides.api.p95", "p95"),
        ({"api.p95_ms": "fast"}, "overrides.api.p95_ms", "fast"),
        ({"api": {"p95_ms": {"limit": 1, "windows": ["rolling_x"]}}}, "overrides.api.p95_ms.windows[0]", "rolling_x"),
    ],
)
def test_override_errors_name_field_and_value(overrides, field, value):
    with pytest.raises(ThresholdConfigError) as info:
        load_thresholds(overrides=overrides)
    assert (info.value.field, info.value.value) == (field, value)
    assert info.value.source.startswith("overrides")


def test_unknown_profile_in_the_file_is_caught(tmp_path):
    (tmp_path / "profiles.yaml").write_text("profiles: {smoke: {}, load: {}}\n")
    err = error_of(tmp_path, MINIMAL.replace("profiles: [load]", "profiles: [laod]"))
    assert (err.field, err.value) == ("suites.capacity.profiles[0]", "laod")


def test_every_fault_of_the_file_is_named_at_once_on_one_line(tmp_path):
    err = error_of(
        tmp_path,
        "classes: [api]\nrolling_window: 2 weeks\n"
        "suites: {s: {windows: [hourly], thresholds: {api: {p95_ms: {limit: 1, abort: true}}}}}\n",
    )
    text = str(err)
    for field in ("rolling_window: ", "suites.s.windows[0]: ", "suites.s.thresholds.api.p95_ms.abort: "):
        assert field in text
    assert "\n" not in text and (err.field, err.value) == ("rolling_window", "2 weeks")


def test_faults_across_fields_are_named_at_once_without_the_file_values(tmp_path):
    (tmp_path / "profiles.yaml").write_text("profiles: {smoke: {}, load: {}}\n")
    planted = "AKIAPLANTED7Q2X"
    err = error_of(
        tmp_path,
        "classes: [api]\nsuites:\n  s:\n    profiles: [laod]\n"
        f"    thresholds: {{apii: {{p95_ms: 1}}, api: {{p95_ms: 1 {planted}}}}}\n",
    )
    text = str(err)
    assert "suites.s.profiles[0]: unknown profile" in text and "suites.s.thresholds.apii: unknown class" in text
    assert "suites.s.thresholds.api.p95_ms: unknown unit for a latency metric" in text and planted not in text


def test_every_fault_of_the_run_overrides_is_named_with_its_value():
    """Types and forms first (pydantic), then what needs the file (classes, units), each stage all at once."""
    with pytest.raises(ThresholdConfigError) as shapes:
        load_thresholds(overrides={"api": {"p90_ms": {"windows": []}}, "all.error_rate": {"limit": 1, "abort": 1}})
    assert str(shapes.value) == (
        "overrides (run parameters): overrides.api.p90_ms.windows = []: must not be empty; "
        "overrides.all.error_rate.abort: unknown key; allowed: limit, windows, per_endpoint, abort_on_fail; "
        "overrides.api.p90_ms.limit: required"
    )
    with pytest.raises(ThresholdConfigError) as names:
        load_thresholds(overrides={"apx": {"p95_ms": 1}, "api.p99_ms": "fast"})
    assert "overrides.apx = 'apx': unknown class" in str(names.value)
    assert "overrides.api.p99_ms = 'fast': cannot read this limit" in str(names.value)
