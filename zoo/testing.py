"""Helpers for a plugin's own tests: the plugin in zoo's real registry, without installing it.

    from zoo.testing import registry_of
    from zoo_mynet import plugin

    registry = registry_of(mynet=plugin)
    assert registry.failures == [] and "mynet-torch" in registry.models

The registry is built exactly as zoo builds one from installed entry points (the same
isolation, validation and conflict checks), from the given modules alone.
"""

from __future__ import annotations

from zoo.plugins.discovery import load_plugins
from zoo.plugins.registry import Registry

__all__ = ["Registry", "registry_of"]


def registry_of(**plugins: object) -> Registry:
    """A registry holding only ``plugins`` (entry-point name -> plugin module), none of those installed."""
    return Registry.from_plugins(load_plugins(entry_points=False, extra=list(plugins.items())))
