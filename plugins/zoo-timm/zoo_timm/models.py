"""Builders of every indexed timm architecture: ``zoo_timm.models:<name>`` is
``create(<name>, num_classes=..., in_chans=..., img_size=(H, W))``, through ``timm.create_model``."""

from __future__ import annotations

import functools
from typing import Any

from zoo.api import UsageError, check_input_size
from zoo_timm.index import load_index, timm_spec


def create(name: str, *, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    """``timm.create_model(name, num_classes=..., in_chans=...)``, refused below the model's minimum input.

    A model timm builds for one input size (``fixed_input_size``) is asked for another size through
    timm's own ``img_size`` argument, which the vision transformers take; others refuse it in one line."""
    import timm

    spec = timm_spec(name)
    size = (int(img_size[0]), int(img_size[1]))
    check_input_size(spec, size)
    kwargs: dict[str, Any] = {}
    if load_index()["models"][name]["fixed"] and size != spec.img_size:
        kwargs["img_size"] = size
    try:
        return timm.create_model(name, num_classes=num_classes, in_chans=in_chans, **kwargs)
    except TypeError as exc:
        if not kwargs:
            raise
        height, width = spec.img_size
        raise UsageError(f"{spec.name} is built for {height}x{width} inputs only and timm cannot resize it to "
                         f"{size[0]}x{size[1]} ({exc}); pass `image_size` {height}") from exc


def __getattr__(name: str) -> Any:
    if name in load_index()["models"]:
        return functools.partial(create, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r} (not in timm's index)")
