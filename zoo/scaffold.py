"""``zoo plugins new``: write a ready-to-install plugin package from templates.

The package ``zoo-NAME`` (module ``zoo_NAME``) registers one model,
``NAME-BACKEND``, a tiny CNN built with the chosen framework, through the
``zoo.plugins`` entry point; it declares ``zoo_plugin_api`` and carries a
README and a test that uses zoo's in-process plugin manager.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

from zoo.api_version import PLUGIN_API_VERSION
from zoo.errors import UsageError, ZooError

BACKENDS = ("torch", "keras")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "zoo-$name"
version = "0.1.0"
description = "A zoo plugin: the $name model for zoo's $backend backend."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["zoo>=$zoo_version", "zoo-$backend"]

[project.optional-dependencies]
test = ["pytest>=8"]

# zoo loads every module named in this group.
[project.entry-points."zoo.plugins"]
$name = "zoo_$name.plugin"

[tool.setuptools.packages.find]
include = ["zoo_$name*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

INIT = '''\
"""zoo-$name: the $name model for zoo's $backend backend."""

__version__ = "0.1.0"
'''

PLUGIN = '''\
"""What zoo loads (entry point ``$name`` in the ``zoo.plugins`` group): metadata only.

Importing this module must not import $framework: the builder is named by a
``"module:function"`` string that zoo imports only when the model is built.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl

zoo_plugin_api = "$api_range"  # the zoo plugin API versions this plugin is written for


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """The $name model."""
    register(
        ModelSpec(
            name="$name-$backend",
            backend="$backend",
            family="$name",
            builder="zoo_$name.models:$name",
            summary="A tiny CNN: two conv blocks, global average pooling, a linear head",
            input_size=(3, 32, 32),
            min_input_size=(8, 8),
        )
    )
'''

TORCH_MODELS = '''\
"""The $name model in PyTorch; torch is imported when zoo builds the model."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


def $name(*, num_classes: int, in_chans: int, input_size: tuple[int, int]) -> Any:
    """Two (conv 3x3, ReLU, max-pool 2) blocks, global average pooling, a linear head (logits).

    Stages named conv1, pool1, ..., flatten, fc1 appear in ``zoo info --input``'s layer table.
    """
    from torch import nn

    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(in_chans, 16, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(16, 32, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
        pool3=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
        fc1=nn.Linear(32, num_classes),
    ))
'''

KERAS_MODELS = '''\
"""The $name model in Keras 3; keras is imported when zoo builds the model."""

from __future__ import annotations

from typing import Any


def $name(*, num_classes: int, in_chans: int, input_size: tuple[int, int]) -> Any:
    """Two (conv 3x3, ReLU, max-pool 2) blocks, global average pooling, a linear head (logits).

    Layers named conv1, pool1, ..., fc1 appear in ``zoo info --input``'s layer table.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(input_size[0], input_size[1], in_chans), name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.GlobalAveragePooling2D(name="pool3")(x)
    outputs = layers.Dense(num_classes, name="fc1")(x)
    return keras.Model(inputs, outputs, name="$name")
'''

TEST = '''\
"""zoo-$name's tests, through zoo's in-process plugin manager: no install needed."""

from __future__ import annotations

import importlib

import pytest
import zoo
from packaging.specifiers import SpecifierSet
from zoo.plugins import load_plugins
from zoo.registry import Registry

from zoo_$name import plugin


@pytest.fixture(scope="module")
def registry() -> Registry:
    """A registry holding only this plugin, built the way zoo builds it from installed plugins."""
    return Registry.from_plugins(load_plugins(entry_points=False, extra=[("$name", plugin)]))


def test_registers_the_model(registry: Registry) -> None:
    assert registry.failures == []
    assert list(registry.models) == ["$name-$backend"]


def test_declares_a_compatible_api() -> None:
    assert SpecifierSet(plugin.zoo_plugin_api).contains(zoo.PLUGIN_API_VERSION)


def test_builds_and_runs_forward(registry: Registry) -> None:
    spec = registry.model("$name-$backend").spec
    module, _, function = spec.builder.partition(":")
    build = getattr(importlib.import_module(module), function)
    channels, height, width = spec.input_size
    model = build(num_classes=10, in_chans=channels, input_size=(height, width))
$forward
'''

TORCH_FORWARD = """\
    import torch

    logits = model(torch.zeros(2, channels, height, width))
    assert tuple(logits.shape) == (2, 10)"""

KERAS_FORWARD = """\
    import numpy as np

    logits = np.asarray(model(np.zeros((2, height, width, channels), "float32")))
    assert logits.shape == (2, 10)"""

README = """\
# zoo-$name

A [zoo](https://github.com/) plugin: the `$name-$backend` model, a tiny CNN for
zoo's $framework backend. Generated by `zoo plugins new $name --backend $backend`.

## Install and see it

```bash
pip install -e .
zoo plugins          # lists $name with its model
zoo list '$name-*'
zoo info $name-$backend --input 3x32x32
zoo train $name-$backend --dataset cifar10 --epochs 1
```

## Layout

- `pyproject.toml`: the entry point `$name = "zoo_$name.plugin"` in the `zoo.plugins` group.
- `zoo_$name/plugin.py`: `zoo_plugin_api` and the hook that registers the `ModelSpec`; metadata only.
- `zoo_$name/models.py`: the builder, `$name(*, num_classes, in_chans, input_size)`.
- `tests/test_$name.py`: the plugin through zoo's in-process plugin manager, one forward pass.

## Test

```bash
pip install -e '.[test]'
pytest
```

## Publish

```bash
python -m build
twine upload dist/*
```

See zoo's `docs/plugins.md` for every hook and field.
"""

GITIGNORE = "build/\ndist/\n*.egg-info/\n__pycache__/\n.pytest_cache/\n"


def check_name(name: str) -> None:
    """Refuse a name that cannot be a model family, a module and a distribution at once."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise UsageError(
            f"invalid plugin name {name!r}: use a lower-case letter then letters, digits or '_' "
            "(at most 40 characters, not a Python keyword), e.g. 'mynet'"
        )


def _api_range() -> str:
    major, minor = (int(part) for part in PLUGIN_API_VERSION.split(".")[:2])
    return f">={major}.{minor},<{major + 1}"


def render_package(name: str, backend: str) -> dict[str, str]:
    """The files of the package ``zoo-NAME``: relative path to text."""
    check_name(name)
    if backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    from zoo import __version__

    values = {
        "name": name,
        "backend": backend,
        "framework": {"torch": "PyTorch", "keras": "Keras"}[backend],
        "api_range": _api_range(),
        "zoo_version": ".".join(__version__.split(".")[:2]),
        "forward": TORCH_FORWARD if backend == "torch" else KERAS_FORWARD,
    }
    templates = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        ".gitignore": GITIGNORE,
        f"zoo_{name}/__init__.py": INIT,
        f"zoo_{name}/plugin.py": PLUGIN,
        f"zoo_{name}/models.py": TORCH_MODELS if backend == "torch" else KERAS_MODELS,
        f"tests/test_{name}.py": TEST,
    }
    return {path: Template(text).substitute(values) for path, text in templates.items()}


def scaffold(name: str, *, backend: str = "torch", output: str | Path | None = None) -> list[Path]:
    """Write ``zoo-NAME`` into ``output`` (default ``./zoo-NAME``), which must be new or empty.

    Returns the files written.
    """
    files = render_package(name, backend)
    target = Path(output) if output is not None else Path(f"zoo-{name}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} already exists and is not an empty directory; pass --output NEW_DIR")
    written = []
    for relative, text in files.items():
        path = target / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ZooError(f"cannot write {path} ({exc.strerror or exc}); pass --output DIR") from None
        written.append(path)
    return written
