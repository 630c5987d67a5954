"""The core's shape (issue 26): layers that only import downwards, no import circle, small modules,
one plugin seam (zoo.api) that plugins import alone, the old import paths kept one API version."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import grimp
import pytest

from tests.conftest import REPO

LAYERS = ("zoo.cli", "zoo.grid", "zoo.run", "zoo.data", "zoo.plugins", "zoo.api")
DEPRECATED = ("zoo.api_version", "zoo.atomic", "zoo.augment", "zoo.backend", "zoo.config", "zoo.errors",
              "zoo.families", "zoo.hookspecs", "zoo.loading", "zoo.models", "zoo.resume", "zoo.specs")
MAX_LINES = 400


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    """Every import in zoo's modules, function-level and TYPE_CHECKING ones included."""
    return grimp.build_graph("zoo")


def test_import_linter_keeps_the_layer_contract() -> None:
    """pyproject.toml's [tool.importlinter] contract, checked by the real lint-imports."""
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_no_layer_imports_one_above_it(graph: grimp.ImportGraph) -> None:
    upward = []
    for lower_index, lower in enumerate(LAYERS):
        for higher in LAYERS[:lower_index]:
            if graph.chain_exists(importer=lower, imported=higher, as_packages=True):
                upward.append(f"{lower} -> {higher}: {graph.find_shortest_chain(importer=lower, imported=higher)}")
    assert not upward, upward


def test_zoo_api_imports_nothing_of_zoo_outside_it(graph: grimp.ImportGraph) -> None:
    api = {m for m in graph.modules if m == "zoo.api" or m.startswith("zoo.api.")}
    outside = {(m, imported) for m in api for imported in graph.find_modules_directly_imported_by(m)
               if imported.startswith("zoo") and imported not in api}
    assert not outside, sorted(outside)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle(graph: grimp.ImportGraph) -> None:
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    """The check above can fail: two modules importing each other are one circle."""
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    assert _cycles(graph) == [["pkg.a", "pkg.b"]]


def test_no_core_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(REPO)): n for p in (REPO / "zoo").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_plugins_the_example_and_the_scaffold_import_only_zoo_api() -> None:
    pattern = re.compile(r"^\s*(?:from|import)\s+zoo(?:\.(?!api\b)[\w.]+|\s)", re.M)
    sources = [*(REPO / "plugins").rglob("*.py"), *(REPO / "examples").rglob("*.py"),
               *(REPO / "zoo" / "plugins" / "scaffold_templates").glob("*.tmpl")]
    offending = [f"{p.relative_to(REPO)}: {m.group(0).strip()}" for p in sources if "/tests/" not in str(p)
                 for m in pattern.finditer(p.read_text(encoding="utf-8"))]
    assert not offending, offending
    scaffold = (REPO / "zoo" / "plugins" / "scaffold.py").read_text(encoding="utf-8")
    plugin_template = scaffold[scaffold.index("PLUGIN = "):scaffold.index("TEST = ")]
    assert not pattern.search(plugin_template)


def test_no_zoo_module_imports_a_deprecated_path(graph: grimp.ImportGraph) -> None:
    users = {(m, old) for old in DEPRECATED for m in graph.find_modules_that_directly_import(old)}
    assert not users, sorted(users)


@pytest.mark.parametrize("module", DEPRECATED)
def test_an_old_import_path_still_works_and_says_where_it_went(module: str) -> None:
    code = (f"import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
            f"try:\n    import {module}\nexcept DeprecationWarning as w:\n    print(w)\nelse:\n    print('silent')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"{module} is deprecated since zoo plugin API 2.0; import from zoo.api" in result.stdout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = __import__(module, fromlist=["*"])
    import zoo.api

    shared = [name for name in dir(old) if not name.startswith("_") and name in zoo.api.__all__]
    assert shared and all(getattr(old, name) is getattr(zoo.api, name) for name in shared)


def test_zoo_api_exports_its_names_and_loads_only_what_is_asked_for() -> None:
    """A plugin module that needs ModelSpec and hookimpl (all that listing loads) does not pay for the
    backend protocol, the recipe or numpy."""
    code = ("import sys\nfrom zoo.api import ModelSpec, hookimpl\n"
            "print(sorted(m for m in ('zoo.api.backend', 'zoo.api.config', 'numpy') if m in sys.modules))\n"
            "import zoo.api\nprint([n for n in zoo.api.__all__ if getattr(zoo.api, n, None) is None])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["[]", "[]"], result.stdout
