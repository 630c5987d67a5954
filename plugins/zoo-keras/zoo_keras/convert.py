"""Weights as numpy, BatchNorm settings, logits and ONNX export, for ``zoo convert`` and ``zoo export``.

Names are layer paths (nested models joined by ``/``) plus the variable's name:
``conv1/kernel``, ``block1/bn_a/moving_mean``; see :class:`zoo.api.ConvertibleBackend`
and ``docs/convert.md``.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zoo.api import UsageError, ZooError, atomic_path
from zoo_keras.runtime import keras, quiet_numpy_copy_warning

# What Keras' ONNX export goes through on each backend (keras/src/export/onnx.py).
ONNX_EXPORTERS = {"tensorflow": "tf2onnx", "jax": "jax2onnx", "torch": "onnxscript"}


def _layers(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer, f"{prefix}{layer.name}/")
        else:
            yield prefix + layer.name, layer


def _variables(model: Any) -> dict[str, Any]:
    return {f"{path}/{variable.name}": variable for path, layer in _layers(model) for variable in layer.weights}


def get_weights(model: Any) -> dict[str, np.ndarray]:
    """Every weight of ``model`` (trainable or not), copied to numpy."""
    with quiet_numpy_copy_warning():
        return {key: np.array(keras.ops.convert_to_numpy(v.value)) for key, v in _variables(model).items()}


def set_weights(model: Any, weights: Mapping[str, np.ndarray]) -> None:
    """Assign exactly ``weights`` (every weight of the model, same shapes)."""
    variables = _variables(model)
    if set(weights) != set(variables):
        odd = sorted(set(weights) ^ set(variables))
        raise ZooError(f"converted weights do not fit the Keras model ({', '.join(odd[:4])})")
    for key, variable in variables.items():
        array = np.asarray(weights[key])
        if tuple(array.shape) != tuple(variable.shape):
            raise ZooError(f"converted {key} is {array.shape}, the Keras model's is {tuple(variable.shape)}")
        variable.assign(array.astype(variable.dtype))


def _layer(model: Any, path: str) -> Any:
    found = dict(_layers(model)).get(path)
    if found is None:
        raise ZooError(f"the Keras model has no layer {path!r}")
    return found


def feature_shape(model: Any, layer: str) -> tuple[int, ...]:
    """Input shape (H, W, C) of ``layer`` (a top-level layer of a functional or Sequential model)."""
    return tuple(int(d) for d in _layer(model, layer).input.shape[1:])


def batchnorm_conventions(model: Any) -> dict[str, tuple[float, float]]:
    """``{layer path: (momentum in PyTorch's convention, epsilon)}`` of every BatchNormalization layer."""
    return {
        path: (1.0 - float(layer.momentum), float(layer.epsilon))
        for path, layer in _layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    }


def logits(model: Any, inputs: np.ndarray, *, batch_size: int) -> np.ndarray:
    """Logits float32 for NHWC ``inputs``, inference mode, a batch at a time."""
    outputs = [
        np.asarray(keras.ops.convert_to_numpy(model(inputs[start:start + batch_size], training=False)))
        for start in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(outputs).astype(np.float32, copy=False)


def export_onnx(model: Any, path: Path, *, example: np.ndarray, opset: int) -> None:
    """Keras 3's own ONNX export (``model.export(format="onnx")``), written atomically; input NHWC."""
    backend = keras.backend.backend()
    needed = ONNX_EXPORTERS.get(backend)
    if needed is None or importlib.util.find_spec(needed) is None:
        able = [name for name, module in ONNX_EXPORTERS.items() if importlib.util.find_spec(module) is not None]
        where = f"run with --keras-backend {' or '.join(able)}" if able else "pip install 'zoo[onnx]'"
        raise UsageError(f"Keras on {backend} exports ONNX through {needed or 'no exporter'}, which is not "
                         f"installed; {where}")
    model(example[:1], training=False)  # Keras exports only a model that has been called
    try:
        _export(model, Path(path), opset, None)
    except Exception as exc:  # the exporters raise many types; TorchScript's message holds the whole graph
        if backend != "torch":
            raise
        try:
            # Keras on PyTorch keeps the batch axis dynamic only through TorchScript, whose trace cannot
            # export "same" padding computed from the input's size (the AlexNets): one image at a time.
            _export(model, Path(path), opset, keras.InputSpec(shape=(1, *example.shape[1:]), dtype="float32"))
        except Exception:
            reason = " ".join(str(exc).split("Torch IR graph")[0].split())[:160]
            raise ZooError(f"Keras on {backend} cannot export {model.name} to ONNX ({type(exc).__name__}: "
                           f"{reason}); run with --keras-backend tensorflow") from None


def _export(model: Any, path: Path, opset: int, spec: Any) -> None:
    """``model.export`` to ONNX, atomically; ``spec`` fixes the input's shape (None: batch axis dynamic)."""
    signature = None if spec is None else [spec]
    with atomic_path(path) as partial, quiet_numpy_copy_warning(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracers' warnings about shapes taken as constants
        model.export(str(partial), format="onnx", verbose=False, opset_version=opset, input_signature=signature)
