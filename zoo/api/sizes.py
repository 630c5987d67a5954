"""Input sizes: a model's minimum and native sizes, and the size it trains at for given data.

Sizes follow timm's names: ``input_size`` is (C, H, W), ``img_size`` is (H, W).
"""

from __future__ import annotations

from zoo.api.errors import UsageError
from zoo.api.specs import ModelSpec


def check_input_size(spec: ModelSpec, img_size: tuple[int, int]) -> None:
    """Refuse, with the model's limits, an image size (H, W) smaller than it can take."""
    min_h, min_w = spec.min_img_size
    if img_size[0] < min_h or img_size[1] < min_w:
        raise UsageError(
            f"{spec.name} needs inputs of at least {min_h}x{min_w} pixels, got "
            f"{img_size[0]}x{img_size[1]}; resize the data or pick a model with a smaller minimum"
        )


def model_img_size(spec: ModelSpec, data_size: tuple[int, int]) -> tuple[int, int]:
    """The size (H, W) the model sees for data of ``data_size``: the data's own, or the model's
    native size when the data is below the model's minimum (resized on the device)."""
    min_h, min_w = spec.min_img_size
    if data_size[0] >= min_h and data_size[1] >= min_w:
        return data_size
    return spec.img_size


def training_img_size(
    spec: ModelSpec, data_size: tuple[int, int], image_size: int | None, min_image_size: int | None = None
) -> tuple[int, int]:
    """The size (H, W) the model trains and tests at: ``image_size`` squared when asked for; else
    :func:`model_img_size`, resized up to ``min_image_size`` on its shorter side when below it;
    refused when below the model's minimum."""
    if image_size is None:
        img_size = model_img_size(spec, data_size)
        if min_image_size is not None and min(img_size) < min_image_size:
            img_size = shorter_side_to(img_size, min_image_size)
        check_input_size(spec, img_size)
        return img_size
    min_h, min_w = spec.min_img_size
    if image_size < min_h or image_size < min_w:
        raise UsageError(f"`image_size` {image_size} is below {spec.name}'s minimum input of {min_h}x{min_w} "
                         f"pixels; pass `image_size` {max(min_h, min_w)} or more")
    return image_size, image_size


def shorter_side_to(size: tuple[int, int], side: int) -> tuple[int, int]:
    """``size`` scaled, aspect kept, so that its shorter side is ``side`` pixels."""
    scale = side / min(size)
    return max(side, round(size[0] * scale)), max(side, round(size[1] * scale))
