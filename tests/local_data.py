"""Helpers for the local-dataset tests: real Fashion-MNIST images written out as files, and bad files.

The images are the first ones of Debian's Fashion-MNIST (the IDX files are
read once per session, gunzip only); every folder, CSV and .npz is written
under pytest's tmp_path by the test that uses it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="Debian's dataset-fashion-mnist is not installed (make data)",
)
# Folder names that sort in label order (the 'T-shirt/top' of the built-in spec cannot be a folder name).
CLASS_FOLDERS = ("0-tshirt-top", "1-trouser", "2-pullover", "3-dress", "4-coat", "5-sandal", "6-shirt",
                 "7-sneaker", "8-bag", "9-ankle-boot")


@functools.cache
def _fashion(split: str) -> tuple[np.ndarray, np.ndarray]:
    from zoo.data.formats import read_idx

    prefix = "train" if split == "train" else "t10k"
    images = read_idx(FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz")
    return np.asarray(images), np.asarray(labels).astype(np.int64)


def fashion(split: str, count: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Real Fashion-MNIST images ``start..start+count`` of ``split``: uint8 (N, 28, 28) and int64 labels."""
    images, labels = _fashion(split)
    return images[start:start + count], labels[start:start + count]


def save_png(path: Path, image: np.ndarray, mode: str | None = None) -> Path:
    """Write one image with Pillow (PNG unless the suffix says otherwise)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(image)
    if mode is not None:
        picture = picture.convert(mode)
    picture.save(path)
    return path


def write_classes(root: Path, images: np.ndarray, labels: np.ndarray, *, first_index: int = 0,
                  names: Sequence[str] = CLASS_FOLDERS, suffix: str = ".png") -> list[Path]:
    """``root/<class>/<index>.png`` for each image; the file name is its index in the source."""
    written = []
    for offset, (image, label) in enumerate(zip(images, labels, strict=True)):
        written.append(save_png(root / names[int(label)] / f"{first_index + offset:05d}{suffix}", image))
    return written


def write_split_folder(root: Path, train: int, test: int, *, val: int = 0) -> Path:
    """``train/`` and ``test/`` (and ``val/``) class folders of real Fashion-MNIST, first images of each."""
    write_classes(root / "train", *fashion("train", train))
    write_classes(root / "test", *fashion("test", test))
    if val:
        write_classes(root / "val", *fashion("train", val, start=train), first_index=train)
    return root


# -- bad files ------------------------------------------------------------------------------


def truncated_png(path: Path, image: np.ndarray) -> Path:
    """A real PNG cut off in the middle of its image data."""
    save_png(path, image)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def zero_byte_jpeg(path: Path) -> Path:
    """An empty file named .jpg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def text_named_png(path: Path) -> Path:
    """A text file named .png."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is not an image, just some notes someone saved as .png\n")
    return path


def link_outside(path: Path, target: Path) -> Path:
    """A symbolic link at ``path`` to ``target`` (outside the dataset's folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


def cache_entries(cache: Path) -> list[Path]:
    """Every local-dataset cache entry and partial entry under ``$ZOO_CACHE_DIR``."""
    local = cache / "datasets" / "local"
    if not local.is_dir():
        return []
    return sorted(p for d in local.iterdir() for p in d.iterdir() if p.name.lstrip(".").startswith("arrays-"))
