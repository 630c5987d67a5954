"""A local dataset from an ``.npz`` in the layout ``keras.datasets`` returns.

``x_train``, ``y_train``, ``x_test``, ``y_test`` (optional ``x_val``,
``y_val`` and ``class_names``): uint8 ``(N, H, W)`` or ``(N, H, W, C)``
images, integer labels ``(N,)`` or ``(N, 1)``. Read with
``allow_pickle=False``; converted and resized through Pillow only when the
options or mixed shapes ask for it, as image files are.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from zoo.api.errors import ZooError
from zoo.data import cache
from zoo.data.local_decoded import Decoded, channel_stats, choose_target, tally
from zoo.data.local_spec import LocalDatasetSpec
from zoo.data.pixels import Native, Target

NPZ_FORMAT = 1


def npz_fingerprint(spec: LocalDatasetSpec) -> str:
    stat = os.stat(spec.source)
    payload = {"format": NPZ_FORMAT, "options": spec.options.data_key(), "size": stat.st_size,
               "mtime_ns": stat.st_mtime_ns}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def _npz_split(data: Any, path: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    x_key, y_key = f"x_{split}", f"y_{split}"
    if x_key not in data and y_key not in data:
        return None
    if x_key not in data or y_key not in data:
        raise ZooError(f"{path} has {x_key if x_key in data else y_key} but not "
                       f"{y_key if x_key in data else x_key}; save both")
    images, labels = data[x_key], data[y_key]
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ZooError(f"{path}: {x_key} has shape {images.shape}; expected (N, H, W) or (N, H, W, 1|3|4)")
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.integer) or images.min(initial=0) < 0 or images.max(initial=0) > 255:
            raise ZooError(f"{path}: {x_key} is {images.dtype}; save uint8 pixels 0-255 "
                           "(np.uint8(np.round(x * 255)) for images in [0, 1])")
        images = images.astype(np.uint8)
    labels = labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (images.shape[0],):
        raise ZooError(f"{path}: {y_key} must hold one integer label per image of {x_key} ({images.shape[0]:,}), "
                       f"got {labels.dtype} {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ZooError(f"{path}: {y_key} holds negative labels; use 0..K-1")
    return images, labels.astype(np.int64)


def _convert_arrays(images: np.ndarray, target: Target) -> np.ndarray:
    """NHWC uint8 arrays converted and resized to ``target`` through Pillow, as image files are."""
    from PIL import Image

    from zoo.data.pixels import to_array

    if images.shape[1:] == target.shape:
        return images
    out = np.empty((images.shape[0], *target.shape), dtype=np.uint8)
    pil_mode = {1: "L", 3: "RGB", 4: "RGBA"}[images.shape[-1]]
    for i, image in enumerate(images):
        out[i] = to_array(Image.fromarray(image[..., 0] if pil_mode == "L" else image, mode=pil_mode), target)
    return out


def read_npz(spec: LocalDatasetSpec) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[str, ...]]:
    """The ``.npz``'s splits (checked) and class names."""
    path = spec.source
    try:
        with np.load(path, allow_pickle=False) as data:
            splits = {s: _npz_split(data, path, s) for s in ("train", "val", "test")}
            names = next((data[k] for k in ("class_names", "classes") if k in data), None)
            if names is not None:
                names = [str(n) for n in names.reshape(-1).tolist()]
    except (OSError, ValueError, EOFError) as exc:
        raise ZooError(f"cannot read {path} as an .npz of x_train, y_train, x_test, y_test arrays ({exc})") from None
    if splits["train"] is None or splits["test"] is None:
        raise ZooError(f"{path} needs x_train, y_train, x_test and y_test (the layout keras.datasets returns)")
    present = {s: v for s, v in splits.items() if v is not None}
    top = max(int(labels.max(initial=0)) for _, labels in present.values())
    classes = tuple(spec.options.classes) or tuple(names or (str(i) for i in range(top + 1)))
    if top >= len(classes):
        raise ZooError(f"{path}: labels go up to {top} but {len(classes)} class name(s) are given; name one per label")
    if len(classes) < 2:
        raise ZooError(f"{path} has one class; a classifier needs at least two")
    for split, (_, labels) in present.items():
        missing = sorted(set(range(len(classes))) - set(np.unique(labels).tolist()))
        if missing and split != "val":
            raise ZooError(f"{path}: class {classes[missing[0]]!r} has no {split} image; every class needs "
                           "train and test images")
    return present, classes


def build_npz(spec: LocalDatasetSpec, entry: Path) -> Decoded:
    started = time.perf_counter()
    path = spec.source
    options = spec.options
    present, classes = read_npz(spec)
    natives = [Native(x.shape[1], x.shape[2], "L" if x.shape[3] == 1 else "RGB") for x, _ in present.values()
               for _ in range(x.shape[0])]
    target, size_rule, mode_rule = choose_target(options, natives)
    shapes = {}
    converted: dict[str, np.ndarray] = {}
    with cache.building(entry) as partial:
        for split, (images, labels) in present.items():
            converted[split] = _convert_arrays(images, target)
            np.save(partial / f"{split}_images.npy", converted[split])
            np.save(partial / f"{split}_labels.npy", labels)
            shapes[split] = converted[split].shape
        mean, std = channel_stats(converted["train"])
        decoded = Decoded(
            kind="arrays in an .npz", layout="x_train/x_test" + ("/x_val" if "val" in present else ""),
            classes=classes, mean=mean, std=std, target=(target.height, target.width, target.mode),
            size_rule=size_rule, mode_rule=mode_rule,
            **tally(natives, target), skipped=(), ignored=0,
            decoded=len(natives), reused=0, seconds=round(time.perf_counter() - started, 3),
        )
        cache.write_meta(partial, shapes, sources={"source": path}, extra={"local": decoded.to_dict()})
    return decoded
