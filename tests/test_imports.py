"""The package's import graph, read from the source: no module of atlas reaches
itself through the modules it imports (imports inside functions count; imports
only for type checkers do not), and the settings import no pipeline, site or
model code."""

from __future__ import annotations

import ast
from pathlib import Path

import atlas

PACKAGE = Path(atlas.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """The nodes under `if TYPE_CHECKING:`."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for branch in node.body for child in ast.walk(branch))
    return skipped


def import_graph() -> dict[str, set[str]]:
    """Each atlas module -> the atlas modules it imports (a name imported from a
    package counts as its submodule where it is one)."""
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}

    def known(name: str) -> str:
        while name not in files:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_nodes(tree)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                found.update(known(alias.name) for alias in node.names
                             if alias.name.split(".")[0] == "atlas")
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                if base.split(".")[0] != "atlas":
                    continue
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.add(full if full in files else known(base))
        found.discard(module)
        graph[module] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 100  # the whole package was read
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_type_checking_imports_are_not_edges_and_lazy_ones_are() -> None:
    graph = import_graph()
    # views/optimized.py imports BuildConfig only for type checkers, and objectives lazily
    assert "atlas.config" not in graph["atlas.views.optimized"]
    assert "atlas.optvis.objectives" in graph["atlas.views.optimized"]


def test_the_settings_import_no_pipeline_site_or_model_code() -> None:
    imported = import_graph()["atlas.config"]
    assert not [name for name in imported
                if name.split(".")[1] in ("pipeline", "site", "models", "bench", "store")]
