"""The echofuzz package keeps its layers: imports run downwards only, with no cycle at all.

The imports are read from the source (every ``import``, at the top, inside a
function, or under ``TYPE_CHECKING``), so that a lazy or type-only import that
would close a cycle is caught as surely as a plain one.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "echofuzz"

#: Lower numbers are lower layers; a module may import its own layer or below.
LAYERS = {
    "echofuzz.vocabulary": 0,
    "echofuzz.model": 0,
    "echofuzz.wire": 0,
    "echofuzz.options": 0,
    "echofuzz.result": 0,
    "echofuzz.engine": 1,
    "echofuzz.outputs": 2,
    "echofuzz.frontends": 3,
    "echofuzz": 4,  # the package itself and ``python -m echofuzz``
}
#: Modules a reproduction script inlines, or that answer a usage error: standard library only.
STDLIB_ONLY = {
    "echofuzz.vocabulary",
    "echofuzz.model",
    "echofuzz.wire",
    "echofuzz.options",
    "echofuzz.result",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from echofuzz import wire`` imports the module echofuzz.wire.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {
    name: {dep for dep in imports(path) if dep in MODULES and dep != name}
    for name, path in MODULES.items()
}


def layer(name: str) -> int:
    best = max((prefix for prefix in LAYERS if name == prefix or name.startswith(prefix + ".")),
               key=len)  # fmt: skip
    return LAYERS[best]


def test_every_module_of_echofuzz_belongs_to_a_layer():
    assert {"echofuzz.engine.campaign", "echofuzz.frontends.cli", "echofuzz.wire"} <= set(MODULES)
    for name in MODULES:
        layer(name)  # raises ValueError for a module outside every layer


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_downwards_only(name):
    upward = sorted(
        dep for dep in GRAPH[name] if layer(dep) > layer(name) and dep not in ("echofuzz",)
    )
    assert not upward, f"{name} (layer {layer(name)}) imports a higher layer: {upward}"


def test_the_import_graph_has_no_cycle_type_only_imports_included():
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = "open"
        path.append(name)
        for dep in sorted(GRAPH[name]):
            if state.get(dep) == "open":
                cycle = [*path[path.index(dep) :], dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(STDLIB_ONLY))
def test_the_bottom_layer_imports_nothing_but_the_standard_library_and_itself(name):
    outside = sorted(
        dep
        for dep in imports(MODULES[name])
        if dep.split(".")[0] not in sys.stdlib_module_names and not dep.startswith("echofuzz")
    )
    assert not outside, f"{name} imports {outside}"


def test_the_tool_never_imports_the_specification_the_implementations_or_the_tests():
    for name, path in MODULES.items():
        for dep in imports(path):
            assert dep.split(".")[0] not in ("spec", "impl", "tests", "benchmarks"), (name, dep)
