"""The shared vocabulary is defined once (include/perfpipe/vocabulary.py, durations.py, loadtest/http/target.py)."""

import ast
from pathlib import Path

import pytest

from include.perfpipe import vocabulary
from include.perfpipe.limits import parse_limit
from include.perfpipe.loadtest.http.target import DEFAULT_ALLOWLIST, resolve_allowlist
from include.perfpipe.metric_names import PERCENTILES
from include.perfpipe.vocabulary import ALLOWLIST_ENV, OPERATORS, holds, libpq_dsn

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for folder in ("include", "plugins", "dags") for p in (ROOT / folder).rglob("*.py")]
HOME = ROOT / "include" / "perfpipe" / "vocabulary.py"
METRIC_TABLE = ROOT / "include" / "perfpipe" / "metric_names.py"
SQL_OPERATORS = ROOT / "include" / "perfpipe" / "database" / "query_shapes.py"  # SQL's own, not a limit's
NAMES = {
    value
    for name, value in vars(vocabulary).items()
    if name.endswith(("_ENV", "_CONN", "_VARIABLE")) and isinstance(value, str)
}


def _offences(path: Path) -> list[str]:
    """Operator lists, assigned names and DSN driver patterns spelled out in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            if set(OPERATORS) <= {e.value for e in items if isinstance(e, ast.Constant)}:
                found.append(f"{node.lineno}: the operators")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value in NAMES:
            found.append(f"{node.lineno}: {node.value.value}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "postgres(" in node.value:
            found.append(f"{node.lineno}: a DSN driver pattern")
    return found


def test_each_word_is_defined_once():
    assert len(SOURCES) > 80 and len(NAMES) >= 8
    offences = {str(p.relative_to(ROOT)): _offences(p) for p in SOURCES if p not in (HOME, SQL_OPERATORS)}
    assert {p: o for p, o in offences.items() if o} == {}
    assert len(_offences(HOME)) == len(NAMES) + 3  # the scan sees the names, OPERATORS, _HOLDS and _DSN_DRIVER


def test_the_metric_table_is_written_once():
    """Every list of the percentiles comes from ``metric_names`` (they were spelled out in five places)."""
    percentiles = set(PERCENTILES)
    copies = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in SOURCES
        if path != METRIC_TABLE
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict))
        and percentiles
        <= {e.value for e in (node.keys if isinstance(node, ast.Dict) else node.elts) if isinstance(e, ast.Constant)}
    ]
    assert copies == []
    assert percentiles == {"p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms"}


def test_allowlist_precedence(monkeypatch):
    monkeypatch.delenv(ALLOWLIST_ENV, raising=False)
    assert resolve_allowlist() == DEFAULT_ALLOWLIST.split(",")
    assert resolve_allowlist(profiles=["Profiles.example"]) == ["profiles.example"]
    monkeypatch.setenv(ALLOWLIST_ENV, "env.example, other.example")
    assert resolve_allowlist(profiles="profiles.example") == ["env.example", "other.example"]
    assert resolve_allowlist(variable="variable.example", profiles="profiles.example") == ["variable.example"]


@pytest.mark.parametrize(
    ("dsn", "libpq"),
    [
        ("postgresql+psycopg://u@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgres+psycopg2://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("host=h dbname=db", "host=h dbname=db"),
    ],
)
def test_dsn_driver_is_dropped(dsn, libpq):
    assert libpq_dsn(dsn) == libpq


@pytest.mark.parametrize("op", OPERATORS)
def test_every_operator_parses_and_compares(op):
    parsed, limit = parse_limit("p95_ms", f"{op} 100ms")
    assert parsed == op and limit == 100.0
    assert [holds(op, v, limit) for v in (99.0, 100.0, 101.0)] == {
        "<": [True, False, False],
        "<=": [True, True, False],
        ">": [False, False, True],
        ">=": [False, True, True],
    }[op]
