"""Checkpoints: the backend's weights file plus a JSON sidecar the core writes and checks.

The sidecar names the model, dataset, classes, preprocessing, recipe, versions,
metrics and the weights' sha256, so a checkpoint is verified (and its model
rebuilt) before any framework reads the weights.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo.api.atomic import atomic_write_text
from zoo.api.backend import Backend, Preprocessing
from zoo.api.config import MAX_CLASSES, MAX_IMAGE_SIDE
from zoo.api.errors import DiskFull, UsageError, ZooError
from zoo.api.specs import ModelSpec
from zoo.api.version import ZOO_VERSION as __version__

SIDECAR_NAME = "checkpoint.json"
FORMAT = "zoo-checkpoint"
FORMAT_VERSION = 2  # 2: preprocessing.img_size (H, W), called input_size in format 1
KNOWN_FORMAT_VERSIONS = (1, 2)
_REQUIRED = ("model", "backend", "dataset", "classes", "image_shape", "preprocessing", "weights", "weights_sha256")
# Bounds on what a sidecar may ask for, checked before anything is built or allocated.
MAX_SIDE = MAX_IMAGE_SIDE  # pixels per side of the images and of the model's input
MAX_CHANNELS = 4
MAX_SIDECAR_BYTES = 16 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint on disk."""

    directory: Path
    weights: Path
    metadata: dict[str, Any]

    @property
    def model(self) -> str:
        """Registered model name."""
        return str(self.metadata["model"])

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names, index = label."""
        return tuple(self.metadata["classes"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the images the model was trained on."""
        h, w, c = self.metadata["image_shape"]
        return int(h), int(w), int(c)

    @property
    def preprocessing(self) -> Preprocessing:
        """How images are normalised and resized for this model."""
        pre = self.metadata["preprocessing"]
        return Preprocessing(tuple(pre["mean"]), tuple(pre["std"]), tuple(pre["img_size"]))


def save_checkpoint(
    directory: Path,
    *,
    backend: Backend,
    model: Any,
    spec: ModelSpec,
    dataset: str,
    classes: tuple[str, ...],
    image_shape: tuple[int, int, int],
    preprocessing: Preprocessing,
    recipe: dict[str, Any],
    environment: dict[str, str],
    metrics: dict[str, Any],
    run_id: int | None = None,
    converted_from: dict[str, Any] | None = None,
) -> Checkpoint:
    """Write the weights (through the backend) and then the sidecar, each atomically.

    ``converted_from`` (``zoo convert``) records the checkpoint the weights came from.

    A full disk or an unwritable directory is a one-line :class:`ZooError`; no
    partial file is left behind (the writes go through ``zoo.atomic``).
    """
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": spec.name,
        "backend": spec.backend,
        "dataset": dataset,
        "classes": list(classes),
        "image_shape": list(image_shape),
        "preprocessing": {
            "mean": list(preprocessing.mean),
            "std": list(preprocessing.std),
            "img_size": list(preprocessing.img_size),
        },
        "recipe": recipe,
        "environment": environment,
        "metrics": metrics,
        "zoo_version": __version__,
        "run_id": run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if converted_from is not None:
        metadata["converted_from"] = converted_from
    with disk_errors(f"cannot write the checkpoint to {directory}"):
        directory.mkdir(parents=True, exist_ok=True)
        weights = backend.save(model, directory)
        metadata.update(weights=weights.name, weights_sha256=sha256_file(weights))
        atomic_write_text(directory / SIDECAR_NAME, json.dumps(metadata, indent=2) + "\n")
    return Checkpoint(directory, weights, metadata)


@contextlib.contextmanager
def disk_errors(what: str) -> Iterator[None]:
    """Turn an ``OSError`` (full disk, permissions) into a one-line :class:`ZooError`."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        kind = DiskFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ZooError
        raise kind(f"{what} ({reason}); free some space or choose another directory with `output`") from None


def _sidecar_path(path: Path) -> Path:
    if path.is_dir():
        return path / SIDECAR_NAME
    if path.name == SIDECAR_NAME:
        return path
    return path.with_name(SIDECAR_NAME)


def read_checkpoint(path: str | Path) -> Checkpoint:
    """The checkpoint at ``path`` (its directory, sidecar or weights file), verified."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"checkpoint {path} does not exist; pass the directory 'zoo train' wrote")
    sidecar = _sidecar_path(path)
    if not sidecar.is_file():
        raise UsageError(f"{path} is not a zoo checkpoint: no {SIDECAR_NAME} beside it; pass the directory "
                         "'zoo train' wrote")
    if sidecar.stat().st_size > MAX_SIDECAR_BYTES:
        raise ZooError(f"{sidecar} is {sidecar.stat().st_size:,} bytes, more than a sidecar ever holds; "
                       "the checkpoint is damaged")
    try:
        metadata = json.loads(sidecar.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ZooError(f"{sidecar} is not valid JSON ({exc}); the checkpoint is damaged") from None
    check_sidecar(metadata, sidecar)
    weights = sidecar.parent / str(metadata["weights"])
    if not weights.is_file():
        raise ZooError(f"weights file {weights} is missing; restore it or retrain")
    if sha256_file(weights) != metadata["weights_sha256"]:
        raise ZooError(f"weights file {weights} is corrupt or truncated (sha256 differs from {sidecar.name}); "
                       "restore it or retrain")
    return Checkpoint(sidecar.parent, weights, metadata)


def check_sidecar(metadata: Any, sidecar: Path) -> None:
    """Check a sidecar against its schema before anything is built from it: a known format
    version, field types, sizes within bounds, ``std > 0``, a plain weights file name."""
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ZooError(f"{sidecar} is not a zoo checkpoint sidecar")
    version = metadata.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ZooError(f"{sidecar} was written by a newer zoo (format {version}); upgrade zoo")
    if version not in KNOWN_FORMAT_VERSIONS or isinstance(version, bool):
        raise ZooError(f"{sidecar} has format_version {version!r}; this zoo reads format_version "
                       f"{', '.join(map(str, KNOWN_FORMAT_VERSIONS))}")
    missing = [key for key in _REQUIRED if key not in metadata]
    if missing:
        raise ZooError(f"{sidecar} lacks {', '.join(missing)}; the checkpoint is damaged")

    def bad(field: str, value: Any, expected: str) -> ZooError:
        shown = json.dumps(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return ZooError(f"{sidecar}: {field} is {shown}, expected {expected}; the checkpoint is damaged or edited")

    for key in ("model", "backend", "dataset", "weights"):
        if not isinstance(metadata[key], str) or not metadata[key]:
            raise bad(key, metadata[key], "a non-empty string")
    weights = metadata["weights"]
    if Path(weights).name != weights or weights in (".", ".."):
        raise bad("weights", weights, "a file name inside the checkpoint folder")
    if not isinstance(metadata["weights_sha256"], str) or not _SHA256.fullmatch(metadata["weights_sha256"]):
        raise bad("weights_sha256", metadata["weights_sha256"], "64 hexadecimal digits")
    classes = metadata["classes"]
    if (not isinstance(classes, list) or not 1 <= len(classes) <= MAX_CLASSES
            or not all(isinstance(c, str) for c in classes)):
        raise bad("classes", classes, f"a list of 1 to {MAX_CLASSES:,} class names")
    shape = metadata["image_shape"]
    if (not _ints(shape, 3) or not all(1 <= side <= MAX_SIDE for side in shape[:2])
            or not 1 <= shape[2] <= MAX_CHANNELS):
        raise bad("image_shape", shape, f"[height, width, channels] with sides of 1 to {MAX_SIDE} pixels and "
                  f"1 to {MAX_CHANNELS} channels")
    pre = metadata["preprocessing"]
    if not isinstance(pre, dict):
        raise bad("preprocessing", pre, "an object with mean, std and img_size")
    if metadata["format_version"] == 1 and "input_size" in pre:  # format 1's name for it
        pre["img_size"] = pre.pop("input_size")
    size = pre.get("img_size")
    if not _ints(size, 2) or not all(1 <= side <= MAX_SIDE for side in size):
        raise bad("preprocessing.img_size", size, f"[height, width] of 1 to {MAX_SIDE} pixels")
    channels = shape[2]
    for key in ("mean", "std"):
        values = pre.get(key)
        if (not isinstance(values, list) or len(values) != channels
                or not all(_finite_number(v) for v in values)):
            raise bad(f"preprocessing.{key}", values, f"{channels} finite number(s), one per channel of image_shape")
    if not all(v > 0 for v in pre["std"]):
        raise bad("preprocessing.std", pre["std"], "values above 0 (images are divided by them)")
    for key in ("recipe", "environment", "metrics"):
        if key in metadata and not isinstance(metadata[key], dict):
            raise bad(key, metadata[key], "an object")


def _ints(value: Any, count: int) -> bool:
    return (isinstance(value, list) and len(value) == count
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value))


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def load_checkpoint(path: str | Path | Checkpoint) -> tuple[Checkpoint, ModelSpec, Backend, Any]:
    """Verify the checkpoint (unless given one :func:`read_checkpoint` verified), then rebuild its
    model through its backend."""
    from zoo.plugins.backends import get_backend
    from zoo.plugins.registry import get_registry

    checkpoint = path if isinstance(path, Checkpoint) else read_checkpoint(path)
    spec = get_registry().model(checkpoint.model).spec
    if spec.backend != checkpoint.metadata["backend"]:
        raise ZooError(
            f"checkpoint {checkpoint.directory} was trained with backend {checkpoint.metadata['backend']!r} "
            f"but {spec.name} now uses {spec.backend!r}"
        )
    backend = get_backend(spec.backend)
    model = backend.load(
        spec,
        checkpoint.weights,
        num_classes=len(checkpoint.classes),
        in_chans=checkpoint.preprocessing.in_chans,
        img_size=checkpoint.preprocessing.img_size,
    )
    return checkpoint, spec, backend, model
