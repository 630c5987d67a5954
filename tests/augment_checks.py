"""Checks shared by both backends' augmentation tests."""

from __future__ import annotations

import numpy as np


def cutout_boxes(original: np.ndarray, out: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Asserts ``out`` (N, H, W, C) is ``original`` (no zeros in it) with one box zeroed per sample,
    across all channels, at most ``size`` a side; returns each box's (height, width)."""
    assert not (original == 0).any(), "the original must have no zeros, or the boxes cannot be seen"
    boxes = []
    for before, after in zip(original, out, strict=True):
        zeroed = after == 0
        assert (zeroed.all(-1) == zeroed.any(-1)).all(), "a box covers every channel"
        area = zeroed[..., 0]
        rows, cols = np.flatnonzero(area.any(1)), np.flatnonzero(area.any(0))
        assert len(rows) and len(cols), "every sample gets a box (it may hang over an edge, never fully)"
        height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert area.sum() == height * width == len(rows) * len(cols), "the zeroed pixels form one rectangle"
        assert height <= size and width <= size
        assert np.array_equal(after[~zeroed], before[~zeroed]), "nothing outside the box changes"
        boxes.append((int(height), int(width)))
    return boxes


def check_cutout(original: np.ndarray, out: np.ndarray, size: int) -> None:
    """One box per sample (see :func:`cutout_boxes`), whole boxes and boxes clipped by an edge both drawn."""
    boxes = cutout_boxes(original, out, size)
    assert (size, size) in boxes, "a box centred away from the edges is whole"
    assert any(box != (size, size) for box in boxes), "a box centred near an edge is clipped"
    assert len(set(boxes)) > 3
