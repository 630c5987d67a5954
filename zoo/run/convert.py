"""``zoo convert``: a trained checkpoint of one backend as a checkpoint of its twin in the other.

The twin is the model of the same family and variant in the other backend; the
family's :class:`zoo.api.WeightMap` (named by ``ModelSpec.weight_map``) says which
layer is which, :mod:`zoo.run.conversion` does the arithmetic. The result is an
ordinary checkpoint whose sidecar's ``converted_from`` names the source (path,
weights' sha256, backend, model) and the parity measured on real test images.
It is written into a fresh folder beside its final place and renamed into it,
so a reader sees no folder or a whole checkpoint; an existing one is never
replaced unless asked (``overwrite``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.api.conversion import WeightMap
from zoo.api.errors import PluginError, UsageError, ZooError
from zoo.api.loading import load_object
from zoo.api.specs import ModelSpec
from zoo.run import conversion
from zoo.run.checkpoint import SIDECAR_NAME, Checkpoint, disk_errors, load_checkpoint, read_checkpoint, save_checkpoint

TWIN_BACKENDS = {"torch": "keras", "keras": "torch"}
_NEEDED = ("get_weights", "set_weights", "batchnorm_conventions", "logits")


@dataclass(frozen=True)
class Parity:
    """How closely two models' logits agree on the same real images."""

    images: int
    max_abs_logit_diff: float
    top1_agreement: float  # fraction of images with the same top-1 class

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class Conversion:
    """A converted checkpoint, its source and the parity measured between them."""

    source: Checkpoint
    target: Checkpoint
    parity: Parity | None
    run_id: int | None = None  # the finished run of the twin it is recorded as (``record``)


def compare_logits(reference: np.ndarray, other: np.ndarray) -> Parity:
    """Max absolute difference and top-1 agreement of two (N, classes) logit arrays."""
    if len(reference) == 0:
        return Parity(0, 0.0, 1.0)
    diff = float(np.max(np.abs(reference.astype(np.float64) - other.astype(np.float64))))
    agree = float(np.mean(reference.argmax(1) == other.argmax(1)))
    return Parity(len(reference), diff, agree)


def find_twin(spec: ModelSpec, to: str) -> ModelSpec:
    """The model of ``spec``'s family and variant in backend ``to``; a usage error when there is none."""
    from zoo.plugins.registry import get_registry

    if to not in TWIN_BACKENDS:
        raise UsageError(f"--to {to!r} is not a backend zoo converts to; choose {' or '.join(TWIN_BACKENDS)}")
    if spec.backend == to:
        raise UsageError(f"{spec.name} is already a {to} model; pass --to {TWIN_BACKENDS.get(to, to)}")
    if spec.backend not in TWIN_BACKENDS:
        raise UsageError(f"{spec.name} runs on backend {spec.backend!r}; zoo converts between torch and keras only")
    twins = [entry.spec for entry in get_registry().models.values()
             if entry.spec.backend == to and entry.spec.family == spec.family and entry.spec.variant == spec.variant]
    if not twins:
        raise UsageError(f"{spec.name} has no {to} twin (no {to} model of family {spec.family!r}"
                         f"{f' variant {spec.variant!r}' if spec.variant else ''} is installed); see 'zoo list'")
    return twins[0]


def weight_map(spec: ModelSpec, twin: ModelSpec) -> WeightMap:
    """The weight map ``spec`` (else its twin) declares; a usage error when neither declares one."""
    reference = spec.weight_map or twin.weight_map
    if not reference:
        raise UsageError(f"{spec.name} and {twin.name} declare no weight map (ModelSpec.weight_map), so zoo "
                         "cannot convert them; see docs/convert.md")
    found = load_object(reference)
    if not isinstance(found, WeightMap):
        raise PluginError(f"{spec.name}'s weight_map {reference!r} is a {type(found).__name__}, not a WeightMap")
    return found


def convertible(backend: Any) -> Any:
    """``backend`` if it offers what conversion needs (:class:`zoo.api.ConvertibleBackend`), else an error."""
    missing = [name for name in (*_NEEDED, "layout") if not hasattr(backend, name)]
    if missing:
        raise PluginError(f"backend {backend.name!r} cannot convert weights (it lacks {', '.join(missing)})")
    return backend


def move_weights(source_backend: Any, source_model: Any, target_backend: Any, target_model: Any,
                 mapping: WeightMap) -> None:
    """Copy every weight of ``source_model`` into ``target_model`` (one torch-layout, one Keras-layout)."""
    pair = {convertible(source_backend).layout: (source_backend, source_model),
            convertible(target_backend).layout: (target_backend, target_model)}
    if set(pair) != {"torch", "keras"}:
        raise PluginError("zoo converts between a torch-layout and a keras-layout backend only")
    (torch_backend, torch_model), (keras_backend, keras_model) = pair["torch"], pair["keras"]
    conversion.check_batchnorm(mapping, torch_backend.batchnorm_conventions(torch_model),
                               keras_backend.batchnorm_conventions(keras_model))
    shapes = {layer.flatten: keras_backend.feature_shape(keras_model, layer.flatten)
              for layer in mapping.layers if layer.flatten}
    arrays = source_backend.get_weights(source_model)
    if source_backend.layout == "torch":
        target_backend.set_weights(target_model, conversion.to_keras(arrays, mapping, shapes))
    else:
        target_backend.set_weights(target_model, conversion.to_torch(arrays, mapping, shapes))


def test_images(checkpoint: Checkpoint, count: int, data_dir: str | Path | None = None) -> np.ndarray:
    """The first ``count`` test images of the checkpoint's dataset, as float32 NHWC model inputs."""
    from zoo.data import load_dataset

    arrays = load_dataset(checkpoint.metadata["dataset"], data_dir=data_dir)
    images = arrays.test.head(count).images
    if tuple(images.shape[1:]) != checkpoint.image_shape:
        raise ZooError(f"{checkpoint.metadata['dataset']}'s images are {tuple(images.shape[1:])}, the checkpoint "
                       f"was trained on {checkpoint.image_shape}")
    return conversion.model_inputs(images, checkpoint.preprocessing)


def default_output(checkpoint: Checkpoint, to: str) -> Path:
    """``<checkpoint folder>-<backend>`` beside the source; for a run folder of the run store,
    ``zoo_home()/converted/<run folder>-<backend>`` (``zoo runs rebuild`` would take a folder in
    ``runs/`` for a run)."""
    from zoo.api.paths import zoo_home
    from zoo.run.folders import default_root

    name = f"{checkpoint.directory.name}-{to}"
    if checkpoint.directory.resolve().parent == default_root(create=False).resolve():
        return zoo_home() / "converted" / name
    return checkpoint.directory.with_name(name)


def check_output(output: Path, *, overwrite: bool) -> None:
    """Refuse to replace an existing folder (a checkpoint or anything else) unless ``overwrite``."""
    if output.exists() and not output.is_dir():
        raise UsageError(f"{output} exists and is not a folder; pass --output with a fresh folder")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        what = "a checkpoint" if (output / SIDECAR_NAME).exists() else "files"
        raise UsageError(f"{output} already holds {what}; pass --overwrite to replace it, or --output with a "
                         "fresh folder")
    if overwrite and output.is_dir() and any(output.iterdir()) and not (output / SIDECAR_NAME).exists():
        raise UsageError(f"{output} holds files that are not a zoo checkpoint; --overwrite replaces checkpoints "
                         "only: pass --output with a fresh folder")


def publish_folder(output: Path, *, overwrite: bool, write: Callable[[Path], Checkpoint]) -> Checkpoint:
    """Run ``write`` into a hidden folder beside ``output``, then rename it into place (swapping out
    the old one when ``overwrite``); on failure nothing is left."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    old = output.with_name(f".{output.name}.old-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with disk_errors(f"cannot write the converted checkpoint to {output}"):
            written = write(partial)
            if output.exists():
                if overwrite or not any(output.iterdir()):
                    os.replace(output, old)
                else:
                    raise UsageError(f"{output} appeared while converting; pass --overwrite or a fresh folder")
            os.replace(partial, output)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return Checkpoint(output, output / written.weights.name, written.metadata)


def convert_checkpoint(
    path: str | Path,
    *,
    to: str,
    output: str | Path | None = None,
    overwrite: bool = False,
    check_images: int = 256,
    data_dir: str | Path | None = None,
    batch_size: int = 64,
    record: bool = True,
) -> Conversion:
    """Convert the checkpoint at ``path`` to its twin in backend ``to``, check that both give the
    same logits on ``check_images`` real test images (0: no check), and write it to ``output``.

    With ``record`` the result is registered in the run store as a finished run of the twin
    (``zoo.run.converted``): ``zoo train --resume`` trains it on, ``zoo compare`` reuses it."""
    from zoo.plugins.backends import get_backend
    from zoo.plugins.registry import get_registry

    if to not in TWIN_BACKENDS:
        raise UsageError(f"--to {to!r} is not a backend zoo converts to; choose {' or '.join(TWIN_BACKENDS)}")
    if check_images < 0:
        raise UsageError(f"--check must be 0 or more images, got {check_images}")
    source = read_checkpoint(path)
    spec = get_registry().model(source.model).spec
    twin = find_twin(spec, to)
    mapping = weight_map(spec, twin)
    target_dir = Path(output) if output is not None else default_output(source, to)
    if target_dir.resolve() == source.directory.resolve():
        raise UsageError(f"--output {target_dir} is the source checkpoint; pass a fresh folder")
    check_output(target_dir, overwrite=overwrite)
    inputs = test_images(source, check_images, data_dir) if check_images else None

    source, spec, source_backend, source_model = load_checkpoint(source)
    target_backend = get_backend(twin.backend)
    pre = source.preprocessing
    target_model = target_backend.build(twin, num_classes=len(source.classes), in_chans=pre.in_chans,
                                        img_size=pre.img_size)
    move_weights(source_backend, source_model, target_backend, target_model, mapping)
    parity = None
    if inputs is not None:
        parity = compare_logits(source_backend.logits(source_model, inputs, batch_size=batch_size),
                                target_backend.logits(target_model, inputs, batch_size=batch_size))
    origin = {
        "path": str(source.directory.resolve()),
        "weights_sha256": source.metadata["weights_sha256"],
        "backend": source.metadata["backend"],
        "model": source.model,
        "parity": parity.to_dict() if parity is not None else None,
    }
    meta = source.metadata

    def write(folder: Path) -> Checkpoint:
        return save_checkpoint(
            folder, backend=target_backend, model=target_model, spec=twin, dataset=meta["dataset"],
            classes=source.classes, image_shape=source.image_shape, preprocessing=pre,
            recipe=dict(meta.get("recipe") or {}), environment=target_backend.environment("cpu"),
            metrics=dict(meta.get("metrics") or {}), run_id=None, converted_from=origin,
        )

    target = publish_folder(target_dir, overwrite=overwrite, write=write)
    if not record:
        return Conversion(source, target, parity)
    from zoo.run.converted import register

    run_id = register(source, target, origin["parity"])
    return Conversion(source, read_checkpoint(target.directory), parity, run_id)
