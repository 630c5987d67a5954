"""A plugin author's mistakes, caught (issue 26): real packages pip-installed by the tests, the real CLI.

Each package is written here, installed with pip into its own folder (no dependencies) and put on
PYTHONPATH for the ``zoo`` processes, as a user's ``pip install`` would put it in site-packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
TINY_RECIPE = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "200", "--limit-test", "100",
               "--batch-size", "50", "--bench-steps", "2", "--bench-warmup", "1", "--format", "json"]

NET = '''
def build(*, num_classes, in_chans, img_size):
    from torch import nn

    class Net(nn.Module):  # not an nn.Sequential: its stages come from its own module tree
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(in_chans, {width}, 3, padding=1)
            self.act = nn.ReLU()
            self.stage1 = nn.Sequential(nn.Conv2d({width}, {width}, 3, padding=1), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Linear({width}, num_classes)

        def forward(self, x):
            return self.head(self.pool(self.stage1(self.act(self.stem(x)))).flatten(1))

    return Net()
'''


def install(site: Path, name: str, module_source: str, version: str = "0.0.1") -> Path:
    """Write the one-module distribution ``zoo-<name>`` and pip-install it into ``site``."""
    source = site.parent / f"src-{name}-{version}"
    source.mkdir(parents=True, exist_ok=True)
    module = f"zoo_{name.replace('-', '_')}"
    (source / f"{module}.py").write_text(textwrap.dedent(module_source))
    (source / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "zoo-{name}"
        version = "{version}"

        [project.entry-points."zoo.plugins"]
        {name} = "{module}"

        [tool.setuptools]
        py-modules = ["{module}"]
        """))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--upgrade", "--target", str(site), str(source)], check=True, capture_output=True, text=True)
    return site


def registering(name: str, builder: str, notes: str = "", extra: str = "") -> str:
    return f'''
from zoo.api import ModelSpec, hookimpl
{extra}

@hookimpl
def zoo_register_models(register):
    register(ModelSpec(name="{name}-torch", backend="torch", family="{name}", builder="{builder}",
                       input_size=(1, 28, 28), notes={notes!r}))
'''


@pytest.fixture
def env(tmp_path: Path, dataset_cache: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    return {**base, "ZOO_HOME": str(tmp_path / "home"), "ZOO_CACHE_DIR": str(dataset_cache), "COLUMNS": "200",
            "PYTHONPATH": str(tmp_path / "site")}


def zoo(zoo_exe: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(zoo_exe), *args], capture_output=True, text=True, env=env, timeout=600)


def test_a_plugin_whose_functions_lack_hookimpl_is_named_with_the_fix(zoo_exe, env, tmp_path) -> None:
    install(tmp_path / "site", "forgetful", '''
        from zoo.api import ModelSpec

        def zoo_register_models(register):  # @hookimpl forgotten: pluggy never calls it
            register(ModelSpec(name="forgotten-torch", backend="torch", family="f", builder="x:y"))
        ''')
    listed = zoo(zoo_exe, env, "list", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    assert "forgotten-torch" not in listed.stdout
    assert ("plugin 'forgetful' (zoo-forgetful) implements no zoo hook, so it adds nothing; mark its functions "
            "with @hookimpl") in listed.stderr
    report = json.loads(zoo(zoo_exe, env, "plugins", "-f", "json").stdout)
    assert [w["plugin"] for w in report["warnings"]] == ["forgetful"] and report["failed"] == []
    strict = zoo(zoo_exe, {**env, "ZOO_STRICT_PLUGINS": "1"}, "list")
    assert strict.returncode == 1 and "implements no zoo hook" in strict.stderr


def test_a_plugin_that_imports_a_framework_when_loaded_is_named(zoo_exe, env, tmp_path) -> None:
    install(tmp_path / "site", "eager", registering("eager", "zoo_eager:build", extra="import torch  # at load"))
    listed = zoo(zoo_exe, env, "list", "eager-*")
    assert listed.returncode == 0, listed.stderr
    # On a loaded machine importing torch can outlast 3 s: the "still loading" notice then comes first.
    lines = [line for line in listed.stderr.splitlines() if "imports torch when zoo loads it" in line]
    assert len(lines) == 1, listed.stderr
    assert "plugin 'eager' (zoo-eager) imports torch when zoo loads it" in lines[0]
    assert "import it inside the builder or backend methods instead" in lines[0]


def test_a_builder_that_raises_is_one_line_naming_it_and_its_distribution(zoo_exe, env, tmp_path) -> None:
    install(tmp_path / "site", "buggy", registering("buggy", "zoo_buggy:build") + '''
def build(*, num_classes, in_chans, img_size):
    return [1, 2, 3][num_classes]  # a plugin's own bug
''', version="1.2")
    result = zoo(zoo_exe, env, "info", "buggy-torch", "--input", "1x28x28")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: the model builder zoo_buggy:build (from zoo-buggy 1.2) raised IndexError: list index out of "
        "range; report it to the plugin's authors (--debug shows the traceback)"]
    debug = zoo(zoo_exe, env, "--debug", "info", "buggy-torch", "--input", "1x28x28")
    assert "Traceback" in debug.stderr and "return [1, 2, 3][num_classes]" in debug.stderr


def test_notes_and_summaries_are_text_not_markup_and_the_layer_table_is_the_module_tree(
    zoo_exe, env, tmp_path
) -> None:
    install(tmp_path / "site", "tree", registering("tree", "zoo_tree:build", notes="(pip install zoo-vgg[timm])")
            + NET.format(width=8))
    shown = zoo(zoo_exe, env, "info", "tree-torch", "--input", "1x28x28")
    assert shown.returncode == 0, shown.stderr
    assert "(pip install zoo-vgg[timm])" in shown.stdout
    details = json.loads(zoo(zoo_exe, env, "info", "tree-torch", "--input", "1x28x28", "-f", "json").stdout)
    # Every child of the model that has weights or changes the shape; the ReLU (element-wise) is left out.
    assert [(layer["name"], layer["output_shape"]) for layer in details["layers"]] == [
        ("stem", [8, 28, 28]), ("stage1", [8, 28, 28]), ("pool", [8, 1, 1]), ("head", [10])]


@pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)")
def test_compare_trains_again_when_the_plugins_model_changed(zoo_exe, env, tmp_path) -> None:
    site = tmp_path / "site"
    install(site, "grow", registering("grow", "zoo_grow:build") + NET.format(width=4))
    first = json.loads(zoo(zoo_exe, env, "compare", "grow-torch", *TINY_RECIPE).stdout)["rows"][0]
    again = json.loads(zoo(zoo_exe, env, "compare", "grow-torch", *TINY_RECIPE).stdout)["rows"][0]
    assert first["source"].startswith("measured") and again["source"] == first["source"].replace("measured", "reused")
    install(site, "grow", registering("grow", "zoo_grow:build") + NET.format(width=6))  # same version, new net
    changed = json.loads(zoo(zoo_exe, env, "compare", "grow-torch", *TINY_RECIPE).stdout)["rows"][0]
    assert changed["source"].startswith("measured run ") and changed["run_ids"] != first["run_ids"]
    install(site, "grow", registering("grow", "zoo_grow:build") + NET.format(width=6), version="0.0.2")
    bumped = json.loads(zoo(zoo_exe, env, "compare", "grow-torch", *TINY_RECIPE).stdout)["rows"][0]
    assert bumped["source"].startswith("measured run ") and bumped["run_ids"] != changed["run_ids"]


def test_a_plugin_written_for_api_1_still_runs_through_the_old_names(zoo_exe, env, tmp_path) -> None:
    install(tmp_path / "site", "legacy", '''
        from zoo.hookspecs import hookimpl
        from zoo.specs import ModelSpec

        zoo_plugin_api = ">=1.0,<2"


        def build(*, num_classes, in_chans, input_size):
            from torch import nn

            return nn.Sequential(nn.Flatten(), nn.Linear(in_chans * input_size[0] * input_size[1], num_classes))


        @hookimpl
        def zoo_register_models(register):
            register(ModelSpec(name="legacy-torch", backend="torch", family="legacy", builder="zoo_legacy:build",
                               input_size=(1, 28, 28), min_input_size=(20, 20)))
        ''')
    info = zoo(zoo_exe, env, "info", "legacy-torch", "--input", "1x28x28", "-f", "json")
    assert info.returncode == 0, info.stderr
    details = json.loads(info.stdout)
    assert details["min_img_size"] == [20, 20] and details["summary_at_input"]["param_count"] == 28 * 28 * 10 + 10
    assert "Traceback" not in info.stderr and "warning" not in info.stderr  # DeprecationWarnings stay quiet
    small = zoo(zoo_exe, env, "info", "legacy-torch", "--input", "1x16x16")
    assert small.returncode == 2 and "at least 20x20" in small.stderr
