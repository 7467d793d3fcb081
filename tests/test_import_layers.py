"""The package's imports form no circle and run one way, up the layers the README's "Layout" names.

Every module of ``workbench`` is parsed with :mod:`ast` (nothing is imported), so the check also sees
imports inside functions: a function-level import hides a circle from Python's import machinery but
is a circle all the same. Imports under ``if TYPE_CHECKING:`` are exempt (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import workbench

PACKAGE_ROOT = Path(workbench.__file__).resolve().parent

ImportGraph = dict[str, dict[str, str]]
"""``{module: {imported module: "path:line" of the first import of it}}``, workbench modules only."""

LAYERS: tuple[tuple[str, ...], ...] = (
    ("workbench", "errors", "paths", "atomic", "typing", "progress"),  # helpers any layer may use
    ("audio",),
    ("data",),
    ("models",),
    ("hear",),  # workbench encoders as HEAR 2021 API modules
    ("losses",),
    ("features",),
    ("evaluation",),
    ("train",),
    ("launch", "smoke"),  # plan types recipes declare their leaves with; stand-in data and step measurements for smoke()
    ("recipes",),
    ("viz",),
    ("reproduce", "reproduce_progress", "notebooks"),  # the reproduce command and the notebook tool, which cli drives
    ("cli",),
)
"""Bottom to top: a module may import from its own layer or a lower one, never a higher one. Each entry
names a subpackage or module directly under ``workbench`` ("workbench" itself is the package root)."""

KNOWN_UPWARD_IMPORTS: frozenset[tuple[str, str]] = frozenset()
"""``(importing layer, imported layer)`` pairs that break the order today and are pinned here until
they are fixed, each with a comment saying where; a new upward import fails the test."""


def module_name(path: Path, root: Path, package: str) -> str:
    """The dotted name of the module at ``path`` inside the package ``package`` whose folder is ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def package_modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package: ``{dotted name: file}``."""
    return {module_name(path, root, package): path for path in sorted(root.rglob("*.py"))}


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, at any depth, except those under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif _is_type_checking_block(child):
            # Only the body is exempt: an ``else:`` branch runs.
            for statement in child.orelse:
                yield from _import_nodes(ast.Module(body=[statement], type_ignores=[]))
        else:
            yield from _import_nodes(child)


def _imported_modules(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: Mapping) -> list[str]:
    """The modules of ``known`` that one import statement in ``module`` loads.

    ``import a.b.c`` loads ``a.b.c``; ``from a.b import c`` loads the submodule ``a.b.c`` where there is
    one, else ``a.b`` (``c`` is then a name defined in ``a.b``). Relative imports resolve against the
    importing module's package. Parent packages that Python also initialises on the way are not
    counted as edges: every submodule would otherwise "import" its own package's ``__init__``.
    """
    if isinstance(node, ast.Import):
        targets = []
        for alias in node.names:
            name = alias.name
            while name and name not in known:  # ``import a.b.attribute`` is not valid, but be lenient
                name = name.rpartition(".")[0]
            if name:
                targets.append(name)
        return targets
    if node.level:
        package_parts = module.split(".") if is_package else module.split(".")[:-1]
        base_parts = package_parts[: len(package_parts) - (node.level - 1)]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if alias.name != "*" and submodule in known:
            targets.append(submodule)
        elif base in known:
            targets.append(base)
    return targets


def import_graph(root: Path, package: str) -> ImportGraph:
    """Which modules of the package each of its modules imports (see :func:`_imported_modules`)."""
    modules = package_modules(root, package)
    graph: ImportGraph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, str] = {}
        for node in _import_nodes(tree):
            for target in _imported_modules(node, name, path.name == "__init__.py", modules):
                if target != name:
                    edges.setdefault(target, f"{path.relative_to(root.parent)}:{node.lineno}")
        graph[name] = edges
    return graph


def _strongly_connected_components(graph: ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the package is deep enough to make recursion a worry)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = lowlink[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, {})))))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def find_cycles(graph: ImportGraph) -> list[list[str]]:
    """One shortest import circle per group of modules that import each other, as ``[a, b, ..., a]``."""
    cycles = []
    for component in _strongly_connected_components(graph):
        if len(component) < 2:
            continue
        members = set(component)
        start = component[0]
        # Breadth-first from start's imports back to start, inside the component.
        previous: dict[str, str] = {}
        frontier = [start]
        found = False
        while frontier and not found:
            next_frontier = []
            for node in frontier:
                for successor in sorted(graph[node]):
                    if successor not in members:
                        continue
                    if successor == start:
                        path = [start]
                        while node != start:
                            path.append(node)
                            node = previous[node]
                        cycles.append([start, *reversed(path[1:]), start])
                        found = True
                        break
                    if successor not in previous:
                        previous[successor] = node
                        next_frontier.append(successor)
                if found:
                    break
            frontier = next_frontier
    return cycles


def describe_cycle(cycle: list[str], graph: ImportGraph) -> str:
    """``a -> b (at a.py:3) -> a (at b.py:7)``."""
    steps = [cycle[0]] + [f"{target} (at {graph[source][target]})" for source, target in zip(cycle, cycle[1:])]
    return " -> ".join(steps)


def layer_of(module: str) -> str:
    """The layer name of a workbench module: the subpackage or module directly under ``workbench``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def upward_imports(graph: ImportGraph) -> dict[tuple[str, str], list[str]]:
    """Imports from a lower layer to a higher one: ``{(importing layer, imported layer): [where, ...]}``."""
    rank = {name: position for position, layer in enumerate(LAYERS) for name in layer}
    found: dict[tuple[str, str], list[str]] = {}
    for source, edges in sorted(graph.items()):
        for target, where in sorted(edges.items()):
            source_layer, target_layer = layer_of(source), layer_of(target)
            if rank[source_layer] < rank[target_layer]:
                found.setdefault((source_layer, target_layer), []).append(f"{source} imports {target} at {where}")
    return found


def _write_package(root: Path, sources: Mapping[str, str]) -> Path:
    for relative, source in sources.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root / "toy"


# --- the detector itself -------------------------------------------------------------------------


def test_detector_finds_a_circle_through_a_function_level_relative_import(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "toy/__init__.py": "",
            "toy/low.py": "def late():\n    from . import high\n    return high\n",
            "toy/high.py": "from toy.low import late\n",
        },
    )

    graph = import_graph(package, "toy")
    cycles = find_cycles(graph)

    assert cycles == [["toy.high", "toy.low", "toy.high"]]
    assert describe_cycle(cycles[0], graph) == (
        "toy.high -> toy.low (at toy/high.py:1) -> toy.high (at toy/low.py:2)"
    )


def test_detector_resolves_packages_and_parent_relative_imports(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "toy/__init__.py": "from toy.inner import Thing\n",
            "toy/inner/__init__.py": "from .parts import Thing\n",
            "toy/inner/parts.py": "from .. import helpers\nfrom ..helpers import tool\n",
            "toy/helpers.py": "import toy.inner.parts as parts\n",
        },
    )

    graph = import_graph(package, "toy")

    assert graph == {
        "toy": {"toy.inner": "toy/__init__.py:1"},
        "toy.helpers": {"toy.inner.parts": "toy/helpers.py:1"},
        "toy.inner": {"toy.inner.parts": "toy/inner/__init__.py:1"},
        "toy.inner.parts": {"toy.helpers": "toy/inner/parts.py:1"},
    }
    assert find_cycles(graph) == [["toy.helpers", "toy.inner.parts", "toy.helpers"]]


def test_detector_exempts_type_checking_blocks(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "toy/__init__.py": "",
            "toy/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy.b import B\n",
            "toy/b.py": "from toy import a\n",
        },
    )

    assert find_cycles(import_graph(package, "toy")) == []


def test_layer_check_reports_an_upward_import():
    graph = {"workbench.data.x": {"workbench.models.y": "workbench/data/x.py:3"}, "workbench.models.y": {}}

    assert upward_imports(graph) == {
        ("data", "models"): ["workbench.data.x imports workbench.models.y at workbench/data/x.py:3"]
    }


# --- the workbench package -----------------------------------------------------------------------


def test_workbench_has_no_import_circle():
    graph = import_graph(PACKAGE_ROOT, "workbench")
    cycles = find_cycles(graph)

    assert not cycles, "import circles in workbench:\n" + "\n".join(describe_cycle(c, graph) for c in cycles)


def test_every_top_level_module_has_a_layer():
    layered = {name for layer in LAYERS for name in layer}
    top_level = {layer_of(module) for module in package_modules(PACKAGE_ROOT, "workbench")}

    assert top_level <= layered, f"add these to LAYERS: {sorted(top_level - layered)}"


def test_imports_never_go_up_the_layers():
    found = upward_imports(import_graph(PACKAGE_ROOT, "workbench"))
    new = {pair: where for pair, where in found.items() if pair not in KNOWN_UPWARD_IMPORTS}

    assert not new, "imports up the layers (order: " + " -> ".join("/".join(layer) for layer in LAYERS) + "):\n" + (
        "\n".join(line for lines in new.values() for line in lines)
    )
    assert set(found) == set(KNOWN_UPWARD_IMPORTS), (
        f"fixed, drop from KNOWN_UPWARD_IMPORTS: {sorted(set(KNOWN_UPWARD_IMPORTS) - set(found))}"
    )
