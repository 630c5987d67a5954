"""Backend objects from their lazy specs: one per process, checked against the protocol."""

from __future__ import annotations

import functools

from zoo.api.backend import Backend
from zoo.api.errors import PluginError
from zoo.api.loading import load_object
from zoo.plugins.registry import get_registry


@functools.cache
def get_backend(name: str) -> Backend:
    """The backend object registered as ``name``, created once per process."""
    entry = get_registry().backend(name)
    backend = load_object(entry.spec.factory)()
    if not isinstance(backend, Backend):
        raise PluginError(f"backend {name!r} from {entry.plugin.distribution} does not implement zoo.api.Backend")
    return backend
