"""Calling a model's builder: one signature for every model, as timm's ``create_model`` has."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

from zoo.api.errors import PluginError, ZooError, describe_error, is_out_of_memory
from zoo.api.loading import load_object


def call_builder(builder: str | Callable[..., Any], *, num_classes: int, in_chans: int,
                 img_size: tuple[int, int]) -> Any:
    """Build a model: ``builder(num_classes=..., in_chans=..., img_size=(H, W))``.

    ``builder`` is a ``"package.module:function"`` reference or the function. A builder written
    for plugin API 1.0 takes ``input_size=(H, W)`` instead; it is still called, with a warning,
    until plugin API 3.0. An exception inside the builder (a plugin's bug) becomes one
    :class:`~zoo.api.PluginError` line naming the builder and its distribution, the original
    chained to it; out-of-memory errors and zoo's own errors pass through as they are.
    """
    function = load_object(builder) if isinstance(builder, str) else builder
    size = (int(img_size[0]), int(img_size[1]))
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin or C callable: call it the current way
        parameters = {}
    size_keyword = "img_size"
    if "img_size" not in parameters and "input_size" in parameters:
        warnings.warn(f"{getattr(function, '__qualname__', function)} takes input_size=(H, W); since plugin API "
                      "2.0 builders take img_size=(H, W)", DeprecationWarning, stacklevel=2)
        size_keyword = "input_size"
    try:
        return function(num_classes=num_classes, in_chans=in_chans, **{size_keyword: size})
    except ZooError:
        raise
    except Exception as exc:
        if is_out_of_memory(exc):
            raise
        name = builder if isinstance(builder, str) else f"{function.__module__}:{function.__qualname__}"
        raise PluginError(f"the model builder {name}{_shipped_by(name)} raised {describe_error(exc)}; "
                          "report it to the plugin's authors (`debug` shows the traceback)") from exc


def _shipped_by(reference: str) -> str:
    """`` (from zoo-vgg 0.3)``: the distribution that ships the builder's package, when one does."""
    from importlib import metadata

    package = reference.partition(":")[0].split(".")[0]
    names = metadata.packages_distributions().get(package, [])
    if not names:
        return ""
    try:
        return f" (from {names[0]} {metadata.version(names[0])})"
    except metadata.PackageNotFoundError:
        return f" (from {names[0]})"


def load_pretrained(spec: Any, model: Any, weights: str | None = None) -> None:
    """Load ``spec``'s pretrained weights into ``model`` (built by its builder) from a local copy:
    ``weights`` (a file) when given, else the library's own cache. ``UsageError`` when the model has
    no pretrained weights, or (from the loader) when no local copy exists, naming where to put one."""
    from zoo.api.errors import UsageError

    if not spec.pretrained:
        raise UsageError(f"{spec.name} has no pretrained weights; leave out `pretrained` and `weights`")
    loader = load_object(spec.pretrained)
    loader(model, weights=weights)
