"""A labelled grid of sample images as a PNG (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from zoo.data.arrays import Dataset
from zoo.errors import UsageError, ZooError


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
        raise UsageError(f"--split must be train or test, got {split!r}")
    if not 1 <= count <= 400:
        raise UsageError(f"--count must be between 1 and 400, got {count}")
    try:
        import matplotlib
    except ImportError as exc:
        raise ZooError("drawing a sample grid needs matplotlib: pip install 'zoo[plot]'") from exc
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    data = getattr(dataset, split)
    indices = sample_indices(data.labels, count, seed)
    columns = max(1, min(columns, len(indices)))
    rows = math.ceil(len(indices) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.35), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, indices, strict=False):
        image = np.asarray(data.images[index])
        label = int(data.labels[index])
        if image.shape[-1] == 1:
            axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        else:
            axis.imshow(image)
        axis.set_title(dataset.spec.classes[label], fontsize=7)
    figure.suptitle(f"{dataset.spec.name} ({split}, seed {seed})", fontsize=9)
    figure.tight_layout()
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise ZooError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        plt.close(figure)
    return path
