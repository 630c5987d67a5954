"""Checkpoints: the backend's weights file plus a JSON sidecar the core writes and checks.

The sidecar names the model, dataset, classes, preprocessing, recipe, versions,
metrics and the weights' sha256, so a checkpoint is verified (and its model
rebuilt) before any framework reads the weights.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo import __version__
from zoo.atomic import atomic_write_text
from zoo.backend import Backend, Preprocessing
from zoo.errors import ZooError
from zoo.specs import ModelSpec

SIDECAR_NAME = "checkpoint.json"
FORMAT = "zoo-checkpoint"
FORMAT_VERSION = 1
_REQUIRED = ("model", "backend", "dataset", "classes", "image_shape", "preprocessing", "weights", "weights_sha256")


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
        return Preprocessing(tuple(pre["mean"]), tuple(pre["std"]), tuple(pre["input_size"]))


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
) -> Checkpoint:
    """Write the weights (through the backend) and then the sidecar, each atomically.

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
            "input_size": list(preprocessing.input_size),
        },
        "recipe": recipe,
        "environment": environment,
        "metrics": metrics,
        "zoo_version": __version__,
        "run_id": run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
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
        raise ZooError(f"{what} ({reason}); free some space or choose another directory with --output") from None


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
        raise ZooError(f"checkpoint {path} does not exist; pass the directory 'zoo train' wrote")
    sidecar = _sidecar_path(path)
    if not sidecar.is_file():
        raise ZooError(f"{path} is not a zoo checkpoint: no {SIDECAR_NAME} beside it")
    try:
        metadata = json.loads(sidecar.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZooError(f"{sidecar} is not valid JSON ({exc}); the checkpoint is damaged") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ZooError(f"{sidecar} is not a zoo checkpoint sidecar")
    if metadata.get("format_version", 0) > FORMAT_VERSION:
        raise ZooError(f"{sidecar} was written by a newer zoo (format {metadata['format_version']}); upgrade zoo")
    missing = [key for key in _REQUIRED if key not in metadata]
    if missing:
        raise ZooError(f"{sidecar} lacks {', '.join(missing)}; the checkpoint is damaged")
    weights = sidecar.parent / Path(str(metadata["weights"])).name
    if not weights.is_file():
        raise ZooError(f"weights file {weights} is missing; restore it or retrain")
    if sha256_file(weights) != metadata["weights_sha256"]:
        raise ZooError(f"weights file {weights} is corrupt or truncated (sha256 differs from {sidecar.name}); "
                       "restore it or retrain")
    return Checkpoint(sidecar.parent, weights, metadata)


def load_checkpoint(path: str | Path) -> tuple[Checkpoint, ModelSpec, Backend, Any]:
    """Verify the checkpoint, then rebuild its model through its backend."""
    from zoo.models import get_backend
    from zoo.registry import get_registry

    checkpoint = read_checkpoint(path)
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
        input_size=checkpoint.preprocessing.input_size,
    )
    return checkpoint, spec, backend, model
