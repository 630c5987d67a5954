"""Reading user images into the uint8 NHWC form a checkpoint expects (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.errors import UsageError


def read_images(paths: list[Path], shape: tuple[int, int, int]) -> np.ndarray:
    """Read ``paths`` as uint8 (N, H, W, C), converted and resized to ``shape`` (H, W, C) exactly
    as a local dataset's files are (:mod:`zoo.data.pixels`)."""
    from PIL import Image, UnidentifiedImageError

    from zoo.data.pixels import Target, to_array

    height, width, channels = shape
    mode = {1: "grey", 3: "rgb"}.get(channels)
    if mode is None:
        raise UsageError(f"cannot feed images to a model trained on {channels}-channel data")
    target = Target(height, width, mode)
    arrays = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"image {path} does not exist")
        try:
            with Image.open(path) as image:
                arrays.append(to_array(image, target))
        except (UnidentifiedImageError, OSError) as exc:
            raise UsageError(f"{path} is not an image Pillow can read ({type(exc).__name__})") from None
    return np.stack(arrays)
