"""Keras Applications built for zoo, and their pretrained weights from local files.

``zoo_keras.applications:<name>`` is ``create(<name>, num_classes=..., in_chans=..., img_size=(H, W))``:
``keras.applications.<Function>(weights=None, include_top=True, classes=num_classes,
input_shape=(H, W, in_chans), classifier_activation=None)`` (logits, as every zoo model gives), with
``include_preprocessing=False`` where the function has it (zoo normalises the images itself).

Pretrained weights come from a local file only: ``weights`` when given, else the application's
download in Keras' cache (``$KERAS_HOME/models``, ``~/.keras/models``). A ``.keras`` file is read with
``safe_mode=True``; an ``.h5`` file with h5py, as arrays (Keras Applications' own weight files, or a
whole model Keras saved as ``.h5``). Nothing is unpickled, nothing downloaded. Layers are matched in
order (by name when the layer lists differ); a variable of the same shape is copied, a first conv
with other input channels is summed (1 channel) or tiled and scaled, and anything else (the
classifier of another class count) keeps its fresh initialisation.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from zoo.api import UsageError, ZooError, check_input_size, describe_error
from zoo_keras.application_specs import APPLICATIONS, application_spec
from zoo_keras.runtime import keras


def create(name: str, *, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    """The application ``name`` for ``num_classes`` classes and ``(H, W, in_chans)`` inputs, untrained."""
    spec = application_spec(name)
    size = (int(img_size[0]), int(img_size[1]))
    check_input_size(spec, size)
    function = getattr(keras.applications, APPLICATIONS[name][0])
    kwargs: dict[str, Any] = {"weights": None, "include_top": True, "classes": int(num_classes),
                              "input_shape": (*size, int(in_chans)), "classifier_activation": None}
    if "include_preprocessing" in inspect.signature(function).parameters:
        kwargs["include_preprocessing"] = False
    model = function(**kwargs)
    model.zoo_application = name
    return model


def __getattr__(name: str) -> Any:
    if name in APPLICATIONS:
        return functools.partial(create, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r} (not a Keras application zoo knows)")


# -- pretrained weights ---------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where Keras keeps downloaded application weights."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "models"


def _normal(text: str) -> str:
    return re.sub(r"[-_.]", "", text.lower())


def cached_weights(name: str) -> Path | None:
    """The application's weights file in Keras' cache (its own file names: ``resnet50_weights_..._notop.h5``)."""
    key = _normal(name)
    folder = cache_dir()
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("*.h5")):
        stem = _normal(path.name)
        rest = stem[len(key):]
        if stem.startswith(key) and not rest.startswith("v") and not (key[-1].isdigit() and rest[:1].isdigit()):
            return path
    return None


def weights_path(name: str, weights: str | None) -> Path:
    """``weights`` checked, or the cached download, or a UsageError naming where to put one."""
    function = APPLICATIONS[name][0]
    if weights is None:
        found = cached_weights(name)
        if found is None:
            raise UsageError(f"no local copy of keras.applications.{function}'s weights: put its Keras download "
                             f"(the _notop .h5 file) in {cache_dir()} or pass `weights` FILE (.keras or .h5)")
        return found
    path = Path(weights).expanduser()
    if path.suffix not in (".keras", ".h5"):
        raise UsageError(f"`weights` {weights} is neither a .keras nor an .h5 file: Keras weights are read only "
                         "from those (in safe mode, never unpickled)")
    if not path.is_file():
        raise UsageError(f"`weights` {weights} does not exist; give the path of a .keras or .h5 file")
    return path


def _h5_layers(path: Path) -> list[tuple[str, list[np.ndarray]]]:
    """(layer name, arrays) of a legacy Keras ``.h5`` file, whole model or weights only, read with h5py."""
    import h5py

    def text(value: Any) -> str:
        return value.decode("utf8") if isinstance(value, bytes) else str(value)

    with h5py.File(path, "r") as handle:
        group = handle.get("model_weights", handle)
        if "layer_names" not in group.attrs:
            raise UsageError(f"{path} is not a Keras Applications .h5 weights file (no layer_names); pass the model's "
                             ".keras file or the .h5 file Keras downloads")
        layers = []
        for layer_name in (text(n) for n in group.attrs["layer_names"]):
            names = [text(n) for n in group[layer_name].attrs.get("weight_names", [])]
            if names:
                layers.append((layer_name, [np.asarray(group[layer_name][n]) for n in names]))
        return layers


def _keras_layers(path: Path) -> list[tuple[str, list[np.ndarray]]]:
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    return [(layer.name, [np.asarray(w) for w in layer.get_weights()]) for layer in model.layers if layer.weights]


def _fit(ours: tuple[int, ...], theirs: np.ndarray) -> np.ndarray | None:
    """``theirs`` as a value for a variable of shape ``ours``, or None when it cannot be one."""
    if tuple(theirs.shape) == tuple(ours):
        return theirs
    if theirs.ndim == 4 and theirs.shape[:2] == ours[:2] and theirs.shape[3] == ours[3]:
        if ours[2] == 1:  # an RGB stem on grey images: the sum sees what the three channels would
            return theirs.sum(axis=2, keepdims=True)
        repeats = -(-ours[2] // theirs.shape[2])
        return np.tile(theirs, (1, 1, repeats, 1))[:, :, : ours[2]] * (theirs.shape[2] / ours[2])
    return None


def load_pretrained(model: Any, *, weights: str | None = None) -> None:
    """Copy a local file's weights into ``model``, an application :func:`create` built."""
    name = model.zoo_application
    path = weights_path(name, weights)
    try:
        source = _keras_layers(path) if path.suffix == ".keras" else _h5_layers(path)
    except ZooError:
        raise
    except Exception as exc:
        raise ZooError(f"cannot read Keras weights from {path}: {describe_error(exc)}") from exc
    ours = [layer for layer in model.layers if layer.weights]
    if len(source) == len(ours):
        pairs = list(zip(ours, (arrays for _, arrays in source), strict=True))
    else:
        by_name = dict(source)
        pairs = [(layer, by_name[layer.name]) for layer in ours if layer.name in by_name]
    copied = 0
    for layer, arrays in pairs:
        if len(arrays) != len(layer.weights):
            continue
        for variable, array in zip(layer.weights, arrays, strict=True):
            value = _fit(tuple(variable.shape), array)
            if value is not None:
                variable.assign(value.astype(variable.dtype))
                copied += 1
    if copied == 0:
        raise ZooError(f"{path} holds no weights of keras/{name}; is it keras.applications."
                       f"{APPLICATIONS[name][0]}'s?")
