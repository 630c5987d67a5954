"""zoo: a plugin-style model zoo for image classification.

Plugins add models, datasets and backends through the ``zoo.plugins``
entry-point group; see ``docs/plugins.md``. Importing zoo never imports a
framework.
"""

from __future__ import annotations

from zoo.errors import PluginError, UsageError, ZooError
from zoo.hookspecs import hookimpl
from zoo.registry import Registered, Registry, get_registry
from zoo.specs import BackendSpec, DataFile, DatasetSpec, ModelSpec

__version__ = "0.1.0"

__all__ = [
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
    "get_registry",
    "get_spec",
    "hookimpl",
    "list_models",
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
