"""Builders of every indexed timm architecture: ``zoo_timm.models:<name>`` is
``create(<name>, num_classes=..., in_chans=..., img_size=(H, W))``, through ``timm.create_model``."""

from __future__ import annotations

import functools
from typing import Any

from zoo.api import UsageError, check_input_size
from zoo_timm.index import load_index, timm_spec


def create(name: str, *, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    """``timm.create_model(name, num_classes=..., in_chans=...)``, refused below the model's minimum input.

    A model timm builds for one input size (``fixed_input_size``: ViT, DeiT, Swin, ...) is built at
    ``img_size`` through timm's own ``img_size`` argument when it is not its native size (the index
    says down to which size timm can); one that refuses it says so in one line. The size is kept on
    the model as ``zoo_img_size`` (pretrained weights are resampled to it)."""
    import timm

    spec = timm_spec(name)
    size = (int(img_size[0]), int(img_size[1]))
    check_input_size(spec, size)
    kwargs: dict[str, Any] = {}
    if load_index()["models"][name]["fixed"] and size != spec.img_size:
        kwargs["img_size"] = size
    try:
        model = timm.create_model(name, num_classes=num_classes, in_chans=in_chans, **kwargs)
    except TypeError as exc:
        if not kwargs:
            raise
        height, width = spec.img_size
        raise UsageError(f"{spec.name} is built for {height}x{width} inputs only and timm cannot resize it to "
                         f"{size[0]}x{size[1]} ({exc}); pass `image_size` {height}") from exc
    if kwargs:
        _check_runs(spec.name, model, in_chans, size)
    model.zoo_img_size = kwargs.get("img_size")
    return model


def _check_runs(label: str, model: Any, in_chans: int, size: tuple[int, int]) -> None:
    """Refuse, in one line, a model timm built at ``size`` that does not run at it: some take only
    multiples of their patch size (``timm/test_vit`` runs at 16 and 32 px, not 28)."""
    import torch

    training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros((1, in_chans, *size)))
    except Exception as exc:  # timm says why in an assertion or a shape error
        minimum = timm_spec(label.removeprefix("timm/")).min_img_size[0]
        fits = -(-max(size) // minimum) * minimum
        raise UsageError(f"{label} built at {size[0]}x{size[1]} through timm's img_size does not run at that size "
                         f"({str(exc).splitlines()[0][:200]}); pass `image_size` {fits} (a multiple of its minimum "
                         f"{minimum})") from exc
    finally:
        model.train(training)


def __getattr__(name: str) -> Any:
    if name in load_index()["models"]:
        return functools.partial(create, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r} (not in timm's index)")
