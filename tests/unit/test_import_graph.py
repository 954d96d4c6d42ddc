"""The repository's own modules import in one direction: no cycles, and no code outside tests/
reaches into tests/.

Read from the source with `ast` (every import, also those inside functions and under
TYPE_CHECKING), so a cycle fails here even where lazy imports would hide it at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.harness import ROOT

# The packages checked for cycles, found from the repository root.
PACKAGES = ("local", "bench", "scripts")


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path, ROOT)] = path
    return found


def _imports(path: Path, module: str) -> set[str]:
    """Every module name `path` imports, relative imports resolved."""
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # `from local import seed` imports the module local.seed
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the first-party modules it imports."""
    return {
        name: {imported for imported in _imports(path, name) if imported in modules} - {name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    # Given two modules where one imports the other only inside a function
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def later():\n    from a import x\n")
    modules = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    # Then the graph has the cycle
    assert cycles(import_graph(modules)) == [["a", "b"]]


def test_no_first_party_module_is_part_of_an_import_cycle() -> None:
    # Given every module of local/, bench/ and scripts/
    modules = _modules()
    assert {"local.runtime", "local.launcher", "local.seed", "local.clients"} <= set(modules)
    # Then none of them imports itself through others
    assert cycles(import_graph(modules)) == []


def test_nothing_outside_tests_imports_from_tests() -> None:
    # Given the benchmarks and the local runtime (which tests may import, never the reverse)
    offenders = []
    for package in ("bench", "local"):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path, ROOT)
            imported = _imports(path, module)
            # Then none of their imports names the tests package
            names = {".".join(n.split(".")[:2]) for n in imported}
            from_tests = {n for n in names if n.split(".")[0] == "tests"}
            offenders += [f"{module}: {name}" for name in sorted(from_tests)]
    assert offenders == []
