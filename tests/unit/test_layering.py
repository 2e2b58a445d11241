"""The layering of the domain library, read from its source (every import, lazy and type-only ones included):
no Airflow, data flowing one way, and no import cycle."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "include" / "perfpipe"
PACKAGE = "include.perfpipe"

# Roles (issue 24): the generic engine, and the clients that plug into it through its interface
ENGINE = ("loadtest.engine",)
CLIENTS = ("loadtest.clients", "database.query_client")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def import_statements(source: Path, package: str = "") -> list[tuple[str, tuple[str, ...]]]:
    """``(module, names)`` of every import anywhere in ``source`` (of ``package``), relative ones resolved;
    ``names`` is empty for ``import module``."""
    tree = ast.parse(source.read_text(), filename=str(source))
    parts = package.split(".") if package else []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((base, tuple(alias.name for alias in node.names)))
    return found


def imported_modules(source: Path, package: str = "") -> set[str]:
    return {module for module, _ in import_statements(source, package)}


def import_graph() -> dict[str, set[str]]:
    """The library's modules and, for each, the library modules it imports: ``from P import m`` imports the
    module ``P.m`` when there is one, else ``P`` itself (its ``__init__``)."""
    modules = {module_name(path): path for path in LIBRARY.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        edges = set()
        for module, names in import_statements(path, package_of(path)):
            submodules = {f"{module}.{n}" for n in names} & modules.keys()
            edges |= submodules | ({module} if len(submodules) < len(names) or not names else set())
        graph[name] = {m for m in edges if m in modules and m != name}
    return graph


GRAPH = import_graph()


def _in(module: str, roles: tuple[str, ...]) -> bool:
    return any(module == f"{PACKAGE}.{r}" or module.startswith(f"{PACKAGE}.{r}.") for r in roles)


def _offenders(importers: tuple[str, ...], imported: tuple[str, ...]) -> dict[str, list[str]]:
    found = {m: sorted(i for i in GRAPH[m] if _in(i, imported)) for m in GRAPH if _in(m, importers)}
    return {m: found[m] for m in sorted(found) if found[m]}


def _cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_library_imports_no_airflow_module():
    offenders = {
        str(path.relative_to(LIBRARY)): sorted(m for m in imported_modules(path) if m.split(".")[0] == "airflow")
        for path in LIBRARY.rglob("*.py")
    }
    assert len(offenders) > 30  # the walk found the library
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_imported_modules_sees_nested_relative_and_from_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from airflow.sdk import dag\n    import airflow.models\n    from ..loadtest import spec\n"
    )
    found = imported_modules(probe, f"{PACKAGE}.database")
    assert found == {"airflow.sdk", "airflow.models", f"{PACKAGE}.loadtest"}
    assert import_statements(probe, f"{PACKAGE}.database")[-1] == (f"{PACKAGE}.loadtest", ("spec",))


def test_the_graph_sees_a_cycle_and_a_role_crossing(monkeypatch):
    generator, flat = f"{PACKAGE}.loadtest.engine.generator", f"{PACKAGE}.loadtest.clients.endpoints"
    monkeypatch.setitem(GRAPH, generator, {flat})
    monkeypatch.setitem(GRAPH, flat, {generator})
    assert [flat, generator] in _cycles()
    assert _offenders(ENGINE, CLIENTS)[generator] == [flat]


def test_validation_imports_nothing_from_the_load_engine():
    assert _offenders(("validation",), ("loadtest",)) == {}


def test_the_stages_before_validation_import_nothing_from_it():
    found = _offenders(("loadtest", "database", "metrics", "custom_metrics", "metric_names", "limits"), ("validation",))
    assert {m: i for m, i in found.items() if not m.endswith(".cli")} == {}


def test_only_the_clis_put_runs_together_and_an_engine_sees_only_its_interface():
    uses = {m: {i for i in imported if _in(i, ("runs",))} for m, imported in GRAPH.items() if not _in(m, ("runs",))}
    assert uses[f"{PACKAGE}.loadtest.cli"] and uses[f"{PACKAGE}.database.cli"]  # the walk sees them
    beyond_the_interface = {m: sorted(u - {f"{PACKAGE}.runs.engines"}) for m, u in uses.items() if u}
    assert {m: u for m, u in beyond_the_interface.items() if u and not m.endswith(".cli")} == {}


def test_the_engine_imports_no_client():
    assert _offenders(ENGINE, CLIENTS) == {}


def test_the_scenario_language_imports_no_engine():
    assert _offenders(("loadtest.journey",), ENGINE + CLIENTS + ("loadtest.http.connection", "loadtest.run")) == {}


def test_the_store_imports_nothing_from_regression():
    assert _offenders(("store",), ("regression",)) == {}


def test_no_import_cycle_lazy_imports_included():
    assert _cycles() == []


def test_the_scenario_converters_depend_on_the_scenario_models_only_and_nothing_on_them():
    allowed = {
        f"{PACKAGE}.{m}" for m in ("loadtest.journey.models", "loadtest.http.credentials", "errors", "config_files")
    }
    converters = [m for m in GRAPH if _in(m, ("recording",))]
    found = {m: sorted(i for i in GRAPH[m] if not _in(i, ("recording",)) and i not in allowed) for m in converters}
    assert len(converters) > 5 and {m: i for m, i in found.items() if i} == {}
    assert [m for m in GRAPH if not _in(m, ("recording",)) and any(_in(i, ("recording",)) for i in GRAPH[m])] == []
