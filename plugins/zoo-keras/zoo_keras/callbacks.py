"""Keras' callback plumbing without a device synchronisation per step.

Keras' ``CallbackList`` turns each batch's logs into Python floats before it calls any
callback that has a batch hook, and ``float()`` on a device value waits for the step (and
everything queued before it) to finish: one device->host sync per step (per execution with
``steps_per_execution`` > 1). :class:`LazyLogs` hands the callbacks the logs as they are, so
zoo's callbacks decide when to read a value: every :data:`NAN_CHECK_EVERY` steps, once at the
warm-up boundary, at the end of an epoch, and when a stop is requested.
"""

from __future__ import annotations

from typing import Any

from zoo_keras.runtime import keras, quiet_numpy_copy_warning

NAN_CHECK_EVERY = 20  # steps between reads of the running loss (the NaN watch's only syncs), as zoo-torch's


class LazyLogs(keras.callbacks.CallbackList):
    """A ``CallbackList`` that passes batch logs through unconverted (device values on JAX and PyTorch)."""

    def _call(self, hook: str, batch: int, logs: dict[str, Any] | None) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(batch, logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_predict_batch_end", batch, logs)


def read(logs: dict[str, Any] | None, key: str = "loss") -> float:
    """``logs[key]`` as a float: waits for the step that produced it (a device->host sync)."""
    value = (logs or {}).get(key, 0.0)
    with quiet_numpy_copy_warning():
        return float(keras.ops.convert_to_numpy(value))


def sync_model_state(model: Any) -> None:
    """Write the training state Keras keeps outside the model during ``fit`` back into its variables.

    Keras on JAX carries the weights, optimizer and metric state from step to step and
    assigns them to the model only at the end of an epoch; a state saved mid-epoch needs them
    now. The other backends update the variables in place: nothing to do.
    """
    sync = getattr(model, "jax_state_sync", None)
    if callable(sync):
        sync()
