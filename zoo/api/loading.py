"""Resolve ``"package.module:attribute"`` references, the lazy half of every spec."""

from __future__ import annotations

import importlib
from typing import Any

from zoo.api.errors import PluginError, ZooError, describe_error


def load_object(reference: str) -> Any:
    """Import ``package.module`` and return its (possibly dotted) ``attribute``."""
    module_name, _, attribute = reference.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except ZooError:
        raise  # the plugin's own one-line error (a bad KERAS_BACKEND, say) says more than "cannot load"
    except Exception as exc:
        raise PluginError(f"cannot load {reference!r}: {describe_error(exc)}") from exc
    return target
