"""The import graph follows the flow: no module imports a module of a higher layer, no module cycle.

Layers, lowest first: the core (errors, Run, Finding, the prediction
encodings) < sources (the readers: io, parse, run directories) < stats <
diagnosis (findings, configurations, comparisons) < the pipeline < plots <
report < cli. The Keras modules (the recorder and the training code) are
imported only by the command line and by each other. Every import counts,
the ones inside functions too: a lazy import is still a dependency, only a
later one. The graph is read from the source with ``ast``, nothing is
imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

#: Layer of each module, by the longest dotted prefix listed (a package covers its modules).
LAYERS: dict[str, int] = {
    "dynamics": 0, "dynamics.errors": 0, "dynamics.run": 0, "dynamics.findings": 0, "dynamics.encoding": 0,
    "dynamics.sources": 1,
    "dynamics.stats": 2, "dynamics.simulate": 2, "dynamics.cleanlab_inputs": 2,
    "dynamics.diagnosis": 3, "dynamics.diagnose": 3,
    "dynamics.pipeline": 4,
    "dynamics.plots": 5,
    "dynamics.report": 6,
    "cli": 7, "dynamics.__main__": 7,
}  # fmt: skip
NAMES = ["core", "sources", "stats", "diagnosis", "pipeline", "plots", "report", "cli"]
#: The only upward edges: methods a user calls on the core objects, which must reach the layer that answers
#: them -- Jupyter calls ``_repr_html_`` on a Run, a Diagnosis or a Comparison, and ``Run.to_cleanlab`` is
#: the issue's API. Each import sits inside that one method, so importing the object costs nothing.
METHOD_HOOKS = {("dynamics.run", "dynamics.report.notebook"), ("dynamics.diagnose", "dynamics.report.notebook"),
                ("dynamics.diagnosis.compare", "dynamics.report.notebook"), ("dynamics.run", "dynamics.cleanlab_inputs")}


def _modules() -> dict[str, Path]:
    out = {}
    for package in ("dynamics", "cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()
#: The modules that import keras (the dynamics.keras package); only the command line (and they themselves)
#: may import them.
KERAS = tuple(m for m in MODULES if m == "dynamics.keras" or m.startswith("dynamics.keras."))


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports (``from a.b import c`` is ``a.b.c`` when c is a module, else ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    out = set()
    for module in found:
        while module and module not in MODULES:
            module = module.rpartition(".")[0]
        if module and module != name:
            out.add(module)
    return out


GRAPH = {name: _imports(name, path) - {t for m, t in METHOD_HOOKS if m == name} for name, path in MODULES.items()}


def layer(module: str) -> int | None:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    return LAYERS[best] if best is not None else None


def test_every_module_has_a_layer():
    unplaced = [m for m in MODULES if layer(m) is None and m not in KERAS]
    assert unplaced == [], f"place these modules in LAYERS or KERAS: {unplaced}"


def test_no_module_imports_a_higher_layer():
    upward = [f"{m} ({NAMES[layer(m)]}) imports {t} ({NAMES[layer(t)]})"
              for m, targets in GRAPH.items() if m not in KERAS
              for t in sorted(targets) if t not in KERAS and layer(t) > layer(m)]
    assert upward == []


def test_keras_modules_are_imported_only_by_the_command_line():
    reaching = [f"{m} imports {t}" for m, targets in GRAPH.items() for t in sorted(targets)
                if t in KERAS and m not in KERAS and not m.startswith("cli")]
    assert reaching == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_cycle():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set(), "c": {"b"}}, []),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
])
def test_the_cycle_finder_finds_hand_made_cycles(graph, expected):
    assert sorted(_cycles(graph)) == expected


def test_the_import_reader_resolves_relative_and_from_imports(tmp_path, monkeypatch):
    package = tmp_path / "dynamics" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .a import x\n")
    (package / "a.py").write_text("def f():\n    from dynamics.pkg import b\n    from ..run import Run\n")
    (package / "b.py").write_text("import dynamics.errors\n")
    monkeypatch.setitem(MODULES, "dynamics.pkg", package / "__init__.py")
    monkeypatch.setitem(MODULES, "dynamics.pkg.a", package / "a.py")
    monkeypatch.setitem(MODULES, "dynamics.pkg.b", package / "b.py")
    assert _imports("dynamics.pkg", package / "__init__.py") == {"dynamics.pkg.a"}
    assert _imports("dynamics.pkg.a", package / "a.py") == {"dynamics.pkg.b", "dynamics.run"}
    assert _imports("dynamics.pkg.b", package / "b.py") == {"dynamics.errors"}


def test_method_hooks_are_imports_inside_one_method():
    for module, target in METHOD_HOOKS:
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        at_top = [n for n in tree.body if isinstance(n, ast.ImportFrom) and (n.module or "").startswith(target)]
        inside = [f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                  for n in ast.walk(f) if isinstance(n, ast.ImportFrom) and n.module == target]
        assert not at_top and inside and set(inside) <= {"_repr_html_", "to_cleanlab"}, (module, target, inside)
