"""Keras checkpoints: native ``.keras`` files, written atomically, read in safe mode only.

``save`` writes the architecture and weights (not the optimizer state: zoo's
checkpoints are for evaluation and prediction) to ``model.keras``.
``load`` refuses any file whose configuration declares a ``Lambda`` layer
(Python code, stored as bytecode or as a function reference) before Keras
reads it, always passes ``safe_mode=True`` as a second guard, and then checks that
the file holds the network the spec builds for the requested classes,
channels and input size, weight for weight.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from zoo.api import ZooError, atomic_path
from zoo_keras import layers as _layers  # noqa: F401 - registers LocalResponseNormalization for loading
from zoo_keras.runtime import keras, quiet_numpy_copy_warning

FILENAME = "model.keras"


def save(model: Any, directory: Path) -> Path:
    """Write ``model`` (architecture + weights) to ``directory/model.keras`` atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / FILENAME
    bare = type(model).from_config(model.get_config())  # uncompiled: no optimizer state in the file
    for copy, weight in zip(bare.weights, model.weights, strict=True):
        copy.assign(weight.value)
    with atomic_path(target) as partial, quiet_numpy_copy_warning():  # the temporary keeps ".keras"
        bare.save(partial)
    return target


def _has_lambda(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("class_name") == "Lambda" or any(_has_lambda(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_lambda(item) for item in node)
    return False


def _declares_lambda(path: Path) -> bool:
    """Whether the archive's ``config.json`` declares a Lambda layer (checked before Keras deserialises)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _has_lambda(json.loads(archive.read("config.json")))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False  # not readable as a .keras archive: load_model reports it


def _refuse_lambda(path: Path) -> ZooError:
    return ZooError(
        f"refusing checkpoint {path}: it contains a Lambda layer (arbitrary code); "
        "zoo loads Keras files in safe mode only"
    )


def _read(path: Path) -> Any:
    if not path.is_file():
        raise ZooError(f"checkpoint {path} does not exist; pass the model.keras file a run wrote")
    if _declares_lambda(path):
        raise _refuse_lambda(path)
    try:
        with quiet_numpy_copy_warning():
            return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises ValueError, OSError, KeyError, zipfile errors...
        text = " ".join(str(exc).split())
        if "Lambda" in text and "safe_mode" in text:
            raise _refuse_lambda(path) from None
        reason = text[:160] or type(exc).__name__
        raise ZooError(
            f"cannot read checkpoint {path}: not a valid .keras file, corrupt or truncated ({reason}); "
            "train again or restore the file"
        ) from None


def _signature(model: Any, prefix: str = "") -> list[tuple[str, str, tuple[tuple[int, ...], ...]]]:
    """(layer path, layer class, weight shapes) for every layer, nested models included."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            rows += _signature(layer, f"{prefix}{layer.name}/")
        else:
            shapes = tuple(tuple(weight.shape) for weight in layer.weights)
            rows.append((prefix + layer.name, type(layer).__name__, shapes))
    return rows


def _structure(model: Any) -> list[tuple[str, tuple[tuple[int, ...], ...]]]:
    """(layer class, weight shapes) for every layer in order, without the layers' names."""
    return [(kind, shapes) for _, kind, shapes in _signature(model)]


def load(path: Path, expected: Any, description: str) -> Any:
    """Read ``path`` and check it against ``expected`` (a freshly built model) before returning it.

    ``description`` names what was expected in the error (``alexnet-keras-bn for
    10 classes, 1x28x28``).
    """
    path = Path(path)
    model = _read(path)
    if not isinstance(model, keras.Model):
        raise ZooError(f"checkpoint {path} holds a {type(model).__name__}, not a Keras model")
    got_in, want_in = tuple(model.input_shape[1:]), tuple(expected.input_shape[1:])
    got_out, want_out = tuple(model.output_shape[1:]), tuple(expected.output_shape[1:])
    if got_in != want_in or got_out != want_out:
        raise ZooError(
            f"checkpoint {path} takes inputs {_hwc(got_in)} with {got_out[-1]} classes, but {description} "
            f"needs {_hwc(want_in)} with {want_out[-1]} classes; pass the matching --input/--classes or checkpoint"
        )
    # Layers compared by class and weight shapes, in order: Keras numbers the layers an application leaves
    # unnamed per process (add_3 here, add_17 there), so names differ between two builds of one network.
    if model.name != expected.name or _structure(model) != _structure(expected):
        raise ZooError(
            f"checkpoint {path} holds a different network ({model.name}, {len(model.weights)} weight tensors) "
            f"than {description} ({expected.name}, {len(expected.weights)}); pass the checkpoint of that model"
        )
    return model


def _hwc(shape: tuple[Any, ...]) -> str:
    """A channels-last input shape shown as zoo writes it: CxHxW."""
    h, w, c = shape
    return f"{c}x{h}x{w}"
