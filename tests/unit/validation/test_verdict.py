"""One verdict, decided in validation/verdict.py: the report, the store, the release gate and the CLIs read it."""

import ast
import json
from pathlib import Path

import pytest

from include.perfpipe.regression.gate import release_verdict
from include.perfpipe.reporting.summary import build_summary
from include.perfpipe.store.results_store import _validate_run
from include.perfpipe.validation import VERDICTS, Verdict, run_verdict

LIBRARY = Path(__file__).resolve().parents[3] / "include"
RUN = {"dag_id": "perf_smoke", "run_id": "r1", "profile": "smoke", "target": "http://127.0.0.1:1"}


@pytest.mark.parametrize(
    ("bundle", "verdict", "reason"),
    [
        ({"run": {**RUN, "verdict": "fail", "reason": "own"}, "validation": {"verdict": "pass"}}, "fail", "own"),
        ({"run": RUN, "validation": {"verdict": "invalid", "reason": "saturated"}}, "invalid", "saturated"),
        ({"run": RUN, "loadtest": {"aborted": True, "abort_reason": "stop"}}, "error", "load test aborted: stop"),
        ({"run": RUN, "loadtest": {}, "failure": {"task_id": "v", "error": "boom"}}, "error", "task v failed: boom"),
        ({"run": RUN, "database": {"findings": [{"severity": "critical"}]}}, "fail", "1 critical database finding(s)"),
        ({"run": RUN, "database": {"findings": [{"severity": "warning"}]}}, "pass", "no critical database findings"),
        ({"run": RUN}, "error", "the run produced no results (an upstream task failed)"),
        (  # validation passed, but the DB stage failed for good: never a pass
            {
                "run": RUN,
                "validation": {"verdict": "pass", "reason": "met"},
                "failure": {"task_id": "db", "error": "x"},
            },
            "error",
            "task db failed: x (otherwise: met)",
        ),
        ({"run": RUN, "validation": {"verdict": "fail", "reason": "p95"}, "failure": {"task_id": "db"}}, "fail", "p95"),
    ],
)
def test_precedence(bundle, verdict, reason):
    assert run_verdict(bundle) == (verdict, reason)


def test_the_report_shows_the_decided_verdict():
    finding = {"severity": "critical", "check": "x", "object": "public.t", "evidence": {}, "recommendation": "Fix t."}
    bundle = {"run": RUN, "database": {"findings": [{**finding, "sql": None}]}}
    assert build_summary(bundle)["verdict"]["verdict"] == run_verdict(bundle)[0] == "fail"


def test_an_unknown_verdict_is_refused_the_same_way_everywhere():
    with pytest.raises(ValueError, match="verdict must be one of pass, fail, invalid, error, got 'great'"):
        run_verdict({"run": RUN, "validation": {"verdict": "great"}})
    with pytest.raises(ValueError, match="run.verdict must be one of pass, fail, invalid, error, got 'great'"):
        _validate_run({**RUN, "verdict": "great"})
    with pytest.raises(ValueError, match=r"results\[0\] verdict must be one of pass, fail, invalid, error"):
        release_verdict([("smoke", "great")], ["smoke"])


def test_exit_codes():
    assert [Verdict(v).exit_code for v in VERDICTS] == [0, 1, 2, 3]


def test_report_cli_exits_with_the_verdict_code(tmp_path, capsys):
    from include.perfpipe.cli import main

    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"run": RUN, "validation": {"verdict": "invalid", "reason": "saturated"}}))
    assert main(["report", str(bundle), "--out", str(tmp_path / "out"), "--results-db", ""]) == 2
    assert "invalid: saturated" in capsys.readouterr().out


def _verdict_lists(path: Path) -> list[int]:
    """Lines where a tuple, list or set literal spells out every verdict."""
    tree = ast.parse(path.read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set))
        and set(VERDICTS) <= {e.value for e in node.elts if isinstance(e, ast.Constant)}
    ]


def test_the_verdict_list_is_spelled_out_nowhere_else():
    found = {str(p.relative_to(LIBRARY)): _verdict_lists(p) for p in LIBRARY.rglob("*.py")}
    assert len(found) > 50
    assert {p: lines for p, lines in found.items() if lines} == {}


def test_the_scan_finds_a_spelled_out_list(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('KINDS = ("pass", "fail", "invalid", "error")\n')
    assert _verdict_lists(probe) == [1]
