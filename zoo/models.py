"""Turning specs into live objects: backends, models, summaries. Imports frameworks lazily."""

from __future__ import annotations

import functools
import re
from typing import Any

from zoo.backend import Backend, ModelSummary
from zoo.config import MAX_IMAGE_SIDE
from zoo.errors import PluginError, UsageError
from zoo.loading import load_object
from zoo.registry import get_registry
from zoo.specs import ModelSpec

MAX_CHANNELS = 64  # of a synthetic input (zoo info --input, zoo bench --input)


@functools.cache
def get_backend(name: str) -> Backend:
    """The backend object registered as ``name``, created once per process."""
    entry = get_registry().backend(name)
    backend = load_object(entry.spec.factory)()
    if not isinstance(backend, Backend):
        raise PluginError(
            f"backend {name!r} from {entry.plugin.distribution} does not implement zoo.backend.Backend"
        )
    return backend


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """``"3x32x32"`` (C x H x W) as a tuple, or a usage error showing the form."""
    match = re.fullmatch(r"\s*(\d+)\s*[x,]\s*(\d+)\s*[x,]\s*(\d+)\s*", text)
    if not match or min(int(g) for g in match.groups()) < 1:
        raise UsageError(f"--input must look like 3x32x32 (channels x height x width), got {text!r}")
    c, h, w = (int(g) for g in match.groups())
    if max(h, w) > MAX_IMAGE_SIDE or c > MAX_CHANNELS:
        raise UsageError(f"--input {text} is too large: at most {MAX_CHANNELS} channels and {MAX_IMAGE_SIDE} "
                         "pixels a side")
    return c, h, w


def check_input_size(spec: ModelSpec, input_size: tuple[int, int]) -> None:
    """Refuse, with the model's limits, an input smaller than it can take."""
    min_h, min_w = spec.min_input_size
    if input_size[0] < min_h or input_size[1] < min_w:
        raise UsageError(
            f"{spec.name} needs inputs of at least {min_h}x{min_w} pixels, got "
            f"{input_size[0]}x{input_size[1]}; resize the data or pick a model with a smaller minimum"
        )


def model_input_size(spec: ModelSpec, data_size: tuple[int, int]) -> tuple[int, int]:
    """The size the model sees for data of ``data_size``: the data's own, or the
    model's native size when the data is below the model's minimum (resized on the device)."""
    min_h, min_w = spec.min_input_size
    if data_size[0] >= min_h and data_size[1] >= min_w:
        return data_size
    return spec.input_size[1], spec.input_size[2]


def training_input_size(
    spec: ModelSpec, data_size: tuple[int, int], image_size: int | None, min_image_size: int | None = None
) -> tuple[int, int]:
    """The size the model trains and tests at: ``image_size`` squared when asked for; else
    :func:`model_input_size`, resized up to ``min_image_size`` on its shorter side when below it;
    refused when below the model's minimum."""
    if image_size is None:
        input_size = model_input_size(spec, data_size)
        if min_image_size is not None and min(input_size) < min_image_size:
            input_size = _shorter_side_to(input_size, min_image_size)
        check_input_size(spec, input_size)
        return input_size
    min_h, min_w = spec.min_input_size
    if image_size < min_h or image_size < min_w:
        raise UsageError(f"--image-size {image_size} is below {spec.name}'s minimum input of {min_h}x{min_w} "
                         f"pixels; pass --image-size {max(min_h, min_w)} or more")
    return image_size, image_size


def _shorter_side_to(size: tuple[int, int], side: int) -> tuple[int, int]:
    """``size`` scaled, aspect kept, so that its shorter side is ``side`` pixels."""
    scale = side / min(size)
    return max(side, round(size[0] * scale)), max(side, round(size[1] * scale))


def create_model(
    name: str,
    *,
    num_classes: int = 10,
    in_chans: int | None = None,
    input_size: tuple[int, int] | None = None,
) -> Any:
    """Build the framework model registered as ``name`` (a torch ``nn.Module``, a ``keras.Model``, ...)."""
    spec = get_registry().model(name).spec
    size = input_size or (spec.input_size[1], spec.input_size[2])
    check_input_size(spec, size)
    return get_backend(spec.backend).build(
        spec, num_classes=num_classes, in_chans=in_chans or spec.in_chans, input_size=size
    )


def summarize_model(name: str, input_shape: tuple[int, int, int], num_classes: int = 10) -> ModelSummary:
    """Build ``name`` for ``input_shape`` (C, H, W) and measure layers, parameters and MACs."""
    from zoo.memory import out_of_memory

    spec = get_registry().model(name).spec
    check_input_size(spec, input_shape[1:])
    with out_of_memory(batch_size=None, what=f"building {name} for {'x'.join(map(str, input_shape))}"):
        return get_backend(spec.backend).summarize(spec, num_classes=num_classes, input_shape=input_shape)
