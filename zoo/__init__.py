"""zoo: a plugin-style model zoo for image classification.

Plugins add models, datasets and backends through the ``zoo.plugins``
entry-point group; see ``docs/plugins.md``. Importing zoo never imports a
framework.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api import (
    PLUGIN_API_VERSION,
    BackendSpec,
    DataFile,
    DatasetSpec,
    ModelSpec,
    PluginError,
    UsageError,
    ZooError,
    hookimpl,
)
from zoo.api.version import ZOO_VERSION

if TYPE_CHECKING:
    from zoo.api import Backend, TrainConfig, TrainingProgress
    from zoo.data.arrays import Dataset
    from zoo.plugins.registry import Registered, Registry
    from zoo.run.training import TrainResult

__version__ = ZOO_VERSION

__all__ = [
    "PLUGIN_API_VERSION",
    "BackendSpec",
    "DataFile",
    "DatasetSpec",
    "ModelSpec",
    "PluginError",
    "Registered",
    "Registry",
    "UsageError",
    "ZooError",
    "__version__",
    "compare",
    "create_model",
    "get_backend",
    "get_registry",
    "get_spec",
    "hookimpl",
    "list_models",
    "load_dataset",
    "train",
]

# Importing zoo (or zoo.api, which imports this package first) loads no layer above the plugin API;
# the registry and everything else arrive on first use.
_LAZY = {"Registered": "zoo.plugins.registry", "Registry": "zoo.plugins.registry",
         "get_registry": "zoo.plugins.registry"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def list_models(
    patterns: str | list[str] | tuple[str, ...] = (),
    *,
    exclude: list[str] | tuple[str, ...] = (),
    backend: str | None = None,
    family: str | None = None,
) -> list[str]:
    """Names of the registered models matching fnmatch ``patterns`` (all if empty)."""
    if isinstance(patterns, str):
        patterns = (patterns,)
    from zoo.plugins.registry import get_registry

    entries = get_registry().select_models(patterns, exclude=exclude, backend=backend, family=family)
    return [entry.name for entry in entries]


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name``."""
    from zoo.plugins.registry import get_registry

    return get_registry().model(name).spec


# The wrappers below import their modules on first call, so ``import zoo`` stays
# framework-free and cheap; zoo/run, zoo/data and zoo/grid hold the real
# functions and their full documentation.


def create_model(
    name: str,
    *,
    num_classes: int = 10,
    in_chans: int | None = None,
    img_size: tuple[int, int] | None = None,
) -> Any:
    """Build the framework model registered as ``name`` (an ``nn.Module``, a ``keras.Model``, ...)
    for images of ``img_size`` (H, W), its native size by default."""
    from zoo.run.building import create_model as _create_model

    return _create_model(name, num_classes=num_classes, in_chans=in_chans, img_size=img_size)


def get_backend(name: str) -> Backend:
    """The :class:`zoo.api.Backend` registered as ``name`` (``"torch"``, ``"keras"``)."""
    from zoo.plugins.backends import get_backend as _get_backend

    return _get_backend(name)


def load_dataset(
    name: str | DatasetSpec,
    *,
    data_dir: str | Path | None = None,
    progress: bool = True,
    download: bool = True,
) -> Dataset:
    """A dataset's official train and test splits as uint8 NHWC images and int64 labels."""
    from zoo.data import load_dataset as _load_dataset

    return _load_dataset(name, data_dir=data_dir, progress=progress, download=download)


def train(
    model: str,
    dataset: str,
    config: TrainConfig | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    output: str | Path | None = None,
    progress: TrainingProgress | None = None,
    record: bool = True,
    overwrite: bool = False,
) -> TrainResult:
    """Train ``model`` on ``dataset``, score it on the test split, checkpoint and record the run.

    An ``output`` folder that already holds a checkpoint is refused unless ``overwrite``."""
    from zoo.run.training import train as _train

    return _train(
        model, dataset, config, overrides=overrides, data_dir=data_dir, output=output,
        progress=progress, record=record, overwrite=overwrite,
    )


def compare(*args: Any, **kwargs: Any) -> Any:
    """Train (or reuse), score and time every model matching the patterns (:func:`zoo.grid.comparison.compare`)."""
    from zoo.grid.comparison import compare as _compare

    return _compare(*args, **kwargs)
