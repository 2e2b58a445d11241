"""The domain library stays importable without Airflow: no module under include/perfpipe imports it."""

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "include" / "perfpipe"


def imported_modules(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(), filename=str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_library_imports_no_airflow_module():
    offenders = {
        str(path.relative_to(LIBRARY)): sorted(m for m in imported_modules(path) if m.split(".")[0] == "airflow")
        for path in LIBRARY.rglob("*.py")
    }
    assert len(offenders) > 30  # the walk found the library
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_imported_modules_sees_nested_and_from_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from airflow.sdk import dag\n    import airflow.models\n")
    assert imported_modules(probe) == {"airflow.sdk", "airflow.models"}
