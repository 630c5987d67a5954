"""The plugin API version check (real pip-installed packages), the public API surface, the generated docs."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

import zoo
from tests.conftest import REPO
from zoo.api.version import PLUGIN_API_VERSION, api_mismatch
from zoo.plugins.discovery import load_plugins

PLUGIN_BODY = '''
from zoo import ModelSpec, hookimpl

zoo_plugin_api = {api!r}


@hookimpl
def zoo_register_models(register):
    register(ModelSpec(name="{name}-torch", backend="torch", family="{name}", builder="{module}:build"))
'''


def write_package(root: Path, name: str, api: str) -> Path:
    """A one-module plugin distribution ``zoo-<name>`` declaring ``zoo_plugin_api = api``."""
    module = f"zoo_{name}"
    directory = root / f"zoo-{name}"
    directory.mkdir()
    (directory / f"{module}.py").write_text(PLUGIN_BODY.format(api=api, name=name, module=module))
    (directory / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "zoo-{name}"
        version = "0.0.1"

        [project.entry-points."zoo.plugins"]
        {name} = "{module}"

        [tool.setuptools]
        py-modules = ["{module}"]
        """))
    return directory


@pytest.fixture(scope="module")
def api_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three plugins pip-installed into one directory: needs API 3, a malformed range, a compatible one
    written for API 1 (which API 2 still runs, through its deprecated names)."""
    sources = tmp_path_factory.mktemp("api-packages")
    packages = [
        write_package(sources, "future", ">=3"),
        write_package(sources, "malformed", "version two"),
        write_package(sources, "compatible", ">=1.0,<2"),
    ]
    target = tmp_path_factory.mktemp("api-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), *map(str, packages)],
        check=True, capture_output=True, text=True,
    )
    return target


@pytest.fixture
def with_api_plugins(api_site: Path, zoo_env: dict[str, str]) -> dict[str, str]:
    """The zoo environment with the three plugins discoverable."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(api_site), zoo_env.get("PYTHONPATH")]))}


def test_incompatible_plugins_are_failures_at_stage_api(run_zoo, with_api_plugins) -> None:
    result = run_zoo("plugins", "-f", "json", env=with_api_plugins)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    failed = {f["plugin"]: f for f in report["failed"]}
    assert set(failed) == {"future", "malformed"}
    assert {f["stage"] for f in failed.values()} == {"api"}
    assert failed["future"]["error"] == (
        f"plugin zoo-future supports zoo plugin API >=3 but this zoo provides {PLUGIN_API_VERSION}; "
        "upgrade zoo or install an older zoo-future"
    )
    assert "'version two', which is not a PEP 440 version specifier" in failed["malformed"]["error"]
    loaded = {p["name"]: p for p in report["loaded"]}
    assert {"compatible", "torch", "keras", "datasets"} <= set(loaded)
    assert loaded["compatible"]["models"] == ["compatible-torch"]


def test_everything_else_still_works(run_zoo, with_api_plugins) -> None:
    result = run_zoo("list", "-f", "json", env=with_api_plugins)
    assert result.returncode == 0, result.stderr
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"compatible-torch", "alexnet-torch-bn", "alexnet-keras-bn"} <= names
    assert "future-torch" not in names and "malformed-torch" not in names
    warnings = [line for line in result.stderr.splitlines() if line.startswith("zoo: warning:")]
    assert len(warnings) == 2 and all("failed in api" in w for w in warnings), result.stderr
    table = run_zoo("plugins", env=with_api_plugins)
    assert "failed plugins" in table.stdout and "upgrade zoo" in table.stdout


def test_strict_mode_makes_an_api_mismatch_fatal(run_zoo, with_api_plugins) -> None:
    result = run_zoo("list", env={**with_api_plugins, "ZOO_STRICT_PLUGINS": "1"})
    assert result.returncode == 1
    assert "zoo plugin API" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (None, None),
        (">=1.0,<2", None),  # API 2 still runs 1.x plugins, through the deprecated names
        (">=2.0,<3", None),
        ("~=1.0", None),
        ("", None),
        (">=3", "upgrade zoo or install an older zoo-x"),
        ("<1", "upgrade zoo-x or install an older zoo"),
        ("1.0", "not a PEP 440 version specifier"),
        (2, "not a version specifier string"),
    ],
)
def test_api_mismatch_messages(declared: object, expected: str | None) -> None:
    plugin = types.SimpleNamespace() if declared is None else types.SimpleNamespace(zoo_plugin_api=declared)
    message = api_mismatch(plugin, "zoo-x")
    assert (message is None) if expected is None else (expected in (message or ""))


def test_an_incompatible_in_process_plugin_never_reaches_its_hooks() -> None:
    calls = []
    plugin = types.SimpleNamespace(zoo_plugin_api=">=3", zoo_register_models=lambda register: calls.append(1))
    loaded = load_plugins(entry_points=False, extra=[("future", plugin)])
    assert [(f.plugin, f.stage) for f in loaded.failures] == [("future", "api")]
    assert loaded.infos == {} and calls == []


def test_first_party_plugins_declare_a_compatible_range() -> None:
    from zoo_keras import plugin as keras_plugin
    from zoo_torch import plugin as torch_plugin

    for plugin in (torch_plugin, keras_plugin):
        assert SpecifierSet(plugin.zoo_plugin_api).contains(zoo.PLUGIN_API_VERSION)


def test_public_api_imports_no_framework_and_compare_stays_callable() -> None:
    code = (
        "import sys, zoo; names = [getattr(zoo, n) for n in zoo.__all__]; import zoo.grid.comparison; "
        "from zoo import compare; assert callable(compare) and compare is zoo.compare, compare; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', 'keras', 'timm')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("wrapper", "target"),
    [("create_model", "zoo.run.building:create_model"), ("get_backend", "zoo.plugins.backends:get_backend"),
     ("load_dataset", "zoo.data.datasets:load_dataset"), ("train", "zoo.run.training:train")],
)
def test_public_wrappers_keep_the_real_signatures(wrapper: str, target: str) -> None:
    import importlib

    module, _, name = target.partition(":")
    real = inspect.unwrap(getattr(importlib.import_module(module), name))
    ours, theirs = inspect.signature(getattr(zoo, wrapper)), inspect.signature(real)
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs.parameters.values()
    ]


def test_plugin_reference_in_docs_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "docs" / "gen_plugin_reference.py"), "--check"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
