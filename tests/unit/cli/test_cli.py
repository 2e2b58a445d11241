"""The CLI offers every stage's subcommands."""

import pytest

from include.perfpipe.cli import main

STAGE_COMMANDS = [
    "loadtest",
    "db-inspect",
    "db-bench",
    "db-maintain",
    "validate",
    "report",
    "compare",
    "regression",
    "baseline",
    "embedded-db",
    "scenario",
]


def test_help_lists_every_stage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in STAGE_COMMANDS:
        assert f"    {command}" in out


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-stage"])
    assert exit_info.value.code == 2
    assert "no-such-stage" in capsys.readouterr().err
