"""A labelled grid of sample images as a PNG (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from zoo.api.errors import UsageError, ZooError
from zoo.data.arrays import Dataset


def sample_indices(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` seeded indices, spread over the classes in turn, ordered by class."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    pools = [rng.permutation(np.flatnonzero(labels == c)).tolist() for c in np.unique(labels)]
    chosen: list[int] = []
    while len(chosen) < count and any(pools):
        for pool in pools:
            if pool and len(chosen) < count:
                chosen.append(pool.pop())
    return np.array(sorted(chosen, key=lambda i: (labels[i], i)), dtype=np.int64)


def _mosaic(images: np.ndarray, columns: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Images tiled on white with a label band above each row; returns it and each image's top-left."""
    count, height, width, _ = images.shape
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    band, gap = max(6, height // 3), 2
    cell_h, cell_w = height + band, width + gap
    mosaic = np.full((band + rows * cell_h, columns * cell_w, 3), 255, dtype=np.uint8)
    origins = []
    for k in range(count):
        row, col = divmod(k, columns)
        top, left = band + row * cell_h + band, col * cell_w + gap // 2
        mosaic[top : top + height, left : left + width] = images[k]
        origins.append((top, left))
    return mosaic, origins


def render_samples(
    dataset: Dataset,
    output: str | Path,
    *,
    split: str = "train",
    count: int = 40,
    columns: int = 10,
    seed: int = 0,
) -> Path:
    """Save ``count`` images of ``split`` in a grid, each titled with its class name."""
    if split not in ("train", "test"):
        raise UsageError(f"`split` must be train or test, got {split!r}")
    if not 1 <= count <= 400:
        raise UsageError(f"`count` must be between 1 and 400, got {count}")
    try:
        import matplotlib
    except ImportError as exc:
        raise ZooError("drawing a sample grid needs matplotlib: pip install 'zoo[plot]'") from exc
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    data = getattr(dataset, split)
    indices = sample_indices(data.labels, count, seed)
    mosaic, origins = _mosaic(np.asarray(data.images[indices]), columns)
    height, width = data.images.shape[1:3]
    scale = max(1, 112 // max(height, width))  # about 112 screen pixels per image
    figure = plt.figure(figsize=(mosaic.shape[1] * scale / 100, mosaic.shape[0] * scale / 100), dpi=100)
    axis = figure.add_axes((0, 0, 1, 1))
    axis.imshow(mosaic, interpolation="nearest")
    axis.axis("off")
    for (top, left), index in zip(origins, indices, strict=True):
        name = dataset.spec.classes[int(data.labels[index])]
        axis.text(left + width / 2, top - 1, name, ha="center", va="bottom", fontsize=7, clip_on=True)
    axis.text(mosaic.shape[1] / 2, 1, f"{dataset.spec.name} ({split}, seed {seed})", ha="center", va="top",
              fontsize=9, weight="bold")
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png")
    except OSError as exc:
        raise ZooError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        plt.close(figure)
    return path
