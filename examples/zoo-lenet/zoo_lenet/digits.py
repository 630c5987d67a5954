"""The ``digits`` dataset: scikit-learn's bundled 8x8 digits (UCI), upscaled to 32x32 uint8.

1,797 images from 43 writers, 16 grey levels. Each pixel is scaled from 0..16
to 0..255 and repeated 4x4 (nearest neighbour, no new values invented). The
split is fixed: the first 1,438 images train, the last 359 (20%) test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SCALE = 4
TEST_FRACTION = 5  # one image in five, taken from the end


def upscale(images: np.ndarray) -> np.ndarray:
    """(N, 8, 8) values 0..16 as (N, 32, 32, 1) uint8 values 0..255."""
    grey = np.rint(np.asarray(images, dtype=np.float64) * (255 / 16)).astype(np.uint8)
    return grey.repeat(SCALE, axis=1).repeat(SCALE, axis=2)[..., np.newaxis]


def load(directory: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images, labels), "test": (images, labels)}``; ``directory`` is unused (no files)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = upscale(digits.images), np.asarray(digits.target, dtype=np.int64)
    cut = len(labels) - len(labels) // TEST_FRACTION
    return {"train": (images[:cut], labels[:cut]), "test": (images[cut:], labels[cut:])}
