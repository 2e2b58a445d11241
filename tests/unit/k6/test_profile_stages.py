"""The profile's stages override a k6 script only when the run asks for them, as k6's ``--stage`` flags do."""

from pathlib import Path

import pytest

from include.perfpipe.config_files import CONFIG_DIR
from include.perfpipe.errors import ConfigError
from include.perfpipe.k6.engine import k6_spec, plan_of, profile_stage_overrides
from include.perfpipe.k6.runner import override_environment, run_command
from include.perfpipe.k6.stages import stage_windows
from include.perfpipe.loadtest.spec import load_spec

TARGET = "http://127.0.0.1:1/"  # never contacted: k6 inspect only compiles the script
SCRIPT = CONFIG_DIR / "k6" / "load-test.js"


def _flags(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == name]


def test_the_profiles_stages_become_k6_stage_flags_from_its_start():
    vus, duration, stages = profile_stage_overrides(load_spec("load", TARGET))
    assert (vus, duration) == (0, None)  # k6 takes --vus as startVUs and refuses --duration beside --stage
    assert stages == (("30s", 100), ("60s", 100), ("30s", 200), ("120s", 200), ("30s", 0))


def test_duration_scales_the_stages_and_vus_holds_a_level_as_in_our_engine():
    scaled = profile_stage_overrides(load_spec("load", TARGET, None, {"duration": "27s"}))
    assert scaled[2] == (("3s", 100), ("6s", 100), ("3s", 200), ("12s", 200), ("3s", 0))
    odd = profile_stage_overrides(load_spec("smoke", TARGET, None, {"duration": "2.5s"}))
    assert odd == (1, None, (("2500ms", 1),))
    held = profile_stage_overrides(load_spec("load", TARGET, None, {"vus": 7, "duration": "20s"}))
    assert held == (7, None, (("20s", 7),))


def test_an_open_model_profile_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"^profile_stages: profile 'arrival' ramps an arrival rate") as caught:
        profile_stage_overrides(load_spec("arrival", TARGET))
    assert "\n" not in str(caught.value)


def test_k6_reads_the_profiles_stages_in_place_of_the_scripts_scenarios_only_when_asked():
    spec = load_spec("load", TARGET, None, {"duration": "27s"}, allowlist=["127.0.0.1"])
    own = k6_spec(spec, SCRIPT)
    assert set(own.k6.options["scenarios"]) == {"browse", "buy", "health"} and own.k6.stages == []

    staged = k6_spec(spec, SCRIPT, {"duration": "27s"}, profile_stages=True)
    scenario = staged.k6.options["scenarios"]["default"]  # k6's own consolidation of K6_STAGES
    assert set(staged.k6.options["scenarios"]) == {"default"} and scenario["executor"] == "ramping-vus"
    assert scenario["startVUs"] == 0 and [s["target"] for s in scenario["stages"]] == [100, 100, 200, 200, 0]
    assert staged.k6.options["thresholds"] == own.k6.options["thresholds"]  # the script keeps the rest
    assert stage_windows(staged.k6.options) == spec.stage_windows()  # the windows our engine would judge

    argv = run_command(plan_of(staged, 1), 0, Path("samples.fifo"), Path("k6-summary.json"))
    assert _flags(argv, "--stage") == ["3s:100", "6s:100", "3s:200", "12s:200", "3s:0"]
    assert _flags(argv, "--vus") == ["0"] and "--duration" not in argv
    assert override_environment(plan_of(staged, 1))["K6_STAGES"] == "3s:100,6s:100,3s:200,12s:200,3s:0"
