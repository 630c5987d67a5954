"""Sizes shared by both builders, so the two backends build the same network."""

from __future__ import annotations

from zoo.api import UsageError

NATIVE = 32
MINIMUM = 28


def padding(img_size: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top, bottom), (left, right))`` zeros that bring an input below 32x32 up to it.

    Refuses, with a one-line :class:`zoo.UsageError`, inputs below 28x28.
    """
    height, width = (int(side) for side in img_size)
    if height < MINIMUM or width < MINIMUM:
        raise UsageError(f"lenet5 needs inputs of at least {MINIMUM}x{MINIMUM} pixels, got {height}x{width}")
    pad_h, pad_w = max(0, NATIVE - height), max(0, NATIVE - width)
    return (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)


def flat_features(img_size: tuple[int, int]) -> int:
    """Inputs of the first dense layer: 16 maps after two (conv 5x5, pool 2) stages (400 at 32x32)."""
    (top, bottom), (left, right) = padding(img_size)
    height, width = img_size[0] + top + bottom, img_size[1] + left + right
    return 16 * _after_stages(height) * _after_stages(width)


def _after_stages(side: int) -> int:
    return ((side - 4) // 2 - 4) // 2
