"""Reading user images into the uint8 NHWC form a checkpoint expects (Pillow).

Images are bounded: one with more pixels than Pillow's decompression-bomb limit
(``PIL.Image.MAX_IMAGE_PIXELS``, about 89 megapixels) is refused from its header,
before a pixel is decoded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from zoo.api.errors import UsageError


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
        if not path.exists():
            raise UsageError(f"image {path} does not exist")
        if not path.is_file():
            raise UsageError(f"image {path} is not a file (a directory or a device); give image files")
        try:
            with warnings.catch_warnings():
                # Pillow only warns between 1x and 2x its limit: refuse that too, before decoding.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    arrays.append(to_array(image, target))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UsageError(f"{path} has more pixels than zoo reads ({str(exc).rstrip('.')}); shrink it below "
                             f"{Image.MAX_IMAGE_PIXELS:,} pixels first") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise UsageError(f"{path} is not an image Pillow can read ({type(exc).__name__})") from None
    return np.stack(arrays)
