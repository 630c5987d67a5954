"""Loaders named by the built-in dataset specs: a directory of official files in, arrays out.

Each returns ``{"train": (images, labels), "test": (images, labels)}`` with
uint8 NHWC images and integer labels, the contract of ``DatasetSpec.loader``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from zoo.api.errors import ZooError
from zoo.data.archive import extract_archive
from zoo.data.formats import cifar_label_names, read_cifar_batch, read_idx
from zoo.data.locate import cache_root

Arrays = dict[str, tuple[np.ndarray, np.ndarray]]

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _idx_split(directory: Path, images_name: str, labels_name: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(directory / images_name)
    labels = read_idx(directory / labels_name)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ZooError(f"{directory / images_name} does not hold uint8 images (N x H x W)")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ZooError(f"{directory / labels_name} does not hold uint8 labels (N)")
    if labels.shape[0] != images.shape[0]:
        raise ZooError(
            f"{directory} is inconsistent: {images.shape[0]:,} images in {images_name} "
            f"but {labels.shape[0]:,} labels in {labels_name}"
        )
    return images[..., np.newaxis], labels.astype(np.int64)


def load_idx_dataset(directory: Path) -> Arrays:
    """MNIST-style: the four gzipped IDX files (``train-*``, ``t10k-*``) in ``directory``."""
    directory = Path(directory)
    return {split: _idx_split(directory, *names) for split, names in IDX_FILES.items()}


def _extracted(archive: Path, scratch: Path, folder: str) -> Path:
    root = extract_archive(archive, scratch / "extracted")
    inner = root / folder
    if not inner.is_dir():
        raise ZooError(f"{archive} does not contain the folder {folder!r}; is it the right archive?")
    return inner


def _scratch() -> tempfile.TemporaryDirectory[str]:
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".extract-", dir=root)


def load_cifar10(directory: Path) -> Arrays:
    """CIFAR-10 from ``cifar-10-python.tar.gz`` in ``directory``: 5 train batches and the test batch."""
    archive = Path(directory) / "cifar-10-python.tar.gz"
    with _scratch() as scratch:
        inner = _extracted(archive, Path(scratch), "cifar-10-batches-py")
        meta = inner / "batches.meta"
        if meta.is_file() and len(cifar_label_names(meta, "label_names")) != 10:
            raise ZooError(f"{meta} does not name 10 classes; is it CIFAR-10?")
        parts = [read_cifar_batch(inner / f"data_batch_{i}") for i in range(1, 6)]
        train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        test = read_cifar_batch(inner / "test_batch")
    return {"train": train, "test": test}


def load_cifar100(directory: Path) -> Arrays:
    """CIFAR-100 (fine labels) from ``cifar-100-python.tar.gz`` in ``directory``."""
    archive = Path(directory) / "cifar-100-python.tar.gz"
    with _scratch() as scratch:
        inner = _extracted(archive, Path(scratch), "cifar-100-python")
        meta = inner / "meta"
        if meta.is_file() and len(cifar_label_names(meta, "fine_label_names")) != 100:
            raise ZooError(f"{meta} does not name 100 fine classes; is it CIFAR-100?")
        train = read_cifar_batch(inner / "train", label_key="fine_labels")
        test = read_cifar_batch(inner / "test", label_key="fine_labels")
    return {"train": train, "test": test}
