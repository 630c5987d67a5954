"""zoo: a plugin-style model zoo for image classification.

Plugins add models, datasets and backends through the ``zoo.plugins``
entry-point group; see ``docs/plugins.md``. Importing zoo never imports a
framework.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api_version import PLUGIN_API_VERSION
from zoo.errors import PluginError, UsageError, ZooError
from zoo.hookspecs import hookimpl
from zoo.registry import Registered, Registry, get_registry
from zoo.specs import BackendSpec, DataFile, DatasetSpec, ModelSpec

if TYPE_CHECKING:
    from zoo.backend import Backend, TrainingProgress
    from zoo.config import TrainConfig
    from zoo.data.arrays import Dataset
    from zoo.training import TrainResult

__version__ = "0.1.0"

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
    entries = get_registry().select_models(patterns, exclude=exclude, backend=backend, family=family)
    return [entry.name for entry in entries]


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name``."""
    return get_registry().model(name).spec


# The wrappers below import their modules on first call, so ``import zoo`` stays
# framework-free and cheap; zoo/models.py, zoo/data, zoo/training.py and
# zoo/comparison.py hold the real functions and their full documentation.


def create_model(
    name: str,
    *,
    num_classes: int = 10,
    in_chans: int | None = None,
    input_size: tuple[int, int] | None = None,
) -> Any:
    """Build the framework model registered as ``name`` (an ``nn.Module``, a ``keras.Model``, ...)."""
    from zoo.models import create_model as _create_model

    return _create_model(name, num_classes=num_classes, in_chans=in_chans, input_size=input_size)


def get_backend(name: str) -> Backend:
    """The :class:`zoo.backend.Backend` registered as ``name`` (``"torch"``, ``"keras"``)."""
    from zoo.models import get_backend as _get_backend

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
    from zoo.training import train as _train

    return _train(
        model, dataset, config, overrides=overrides, data_dir=data_dir, output=output,
        progress=progress, record=record, overwrite=overwrite,
    )


def compare(*args: Any, **kwargs: Any) -> Any:
    """Train (or reuse), score and time every model matching the patterns; see :func:`zoo.comparison.compare`."""
    from zoo.comparison import compare as _compare

    return _compare(*args, **kwargs)
