"""Resumable training states: weights, optimizer state and dropout seeds of a compiled model.

The state file is Keras' ``.weights.h5`` (``model.save_weights``), which holds
the model's weights, BatchNorm statistics and the optimizer's variables (its
step counter included, so learning-rate schedules continue where they were).
Dropout's seed-generator states are not in it; they are two integers per
Dropout layer and travel in the manifest's ``extra`` instead, so a resumed run
draws the same dropout masks it would have drawn. The data order needs no
state: zoo-keras derives it from the seed and the epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.api import ZooError
from zoo_keras.runtime import keras, quiet_numpy_copy_warning

SUFFIX = ".weights.h5"  # Keras insists on it


def _seed_variables(model: Any) -> list[Any]:
    """Variables that are not weights: the seed-generator states, in a build-stable order."""
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def seed_states(model: Any) -> list[list[int]]:
    """The dropout seed states of ``model`` as plain integers (JSON-friendly)."""
    with quiet_numpy_copy_warning():
        return [keras.ops.convert_to_numpy(v).astype(np.int64).tolist() for v in _seed_variables(model)]


def write_state(model: Any, path: Path) -> None:
    """Write weights and optimizer state to ``path``, which must end in ``.weights.h5``.

    The core's ``RunControl.save_state`` hands over a temporary path and makes the write atomic.
    """
    with quiet_numpy_copy_warning():
        model.save_weights(Path(path))


def read_state(model: Any, path: Path, seeds: list[list[int]] | None) -> None:
    """Load a state written by :func:`write_state` into a compiled ``model``."""
    path = Path(path)
    if not path.name.endswith(SUFFIX):
        raise ZooError(f"cannot resume from {path}: not a zoo-keras training state (*{SUFFIX})")
    model.optimizer.build(model.trainable_variables)
    try:
        with quiet_numpy_copy_warning():
            model.load_weights(path)
    except Exception as exc:  # h5py and Keras raise several types for a damaged or foreign file
        raise ZooError(f"cannot resume from {path}: {' '.join(str(exc).split())[:160]}; start a new run") from None
    variables = _seed_variables(model)
    if seeds is not None and len(seeds) == len(variables):
        for variable, value in zip(variables, seeds, strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))
