"""Optimizers and learning-rate schedules from a :class:`zoo.config.TrainConfig`.

The same recipe as zoo-torch (which uses timm's ``create_optimizer_v2`` and
``create_scheduler_v2``), written with Keras' own classes:

- ``adam``: Adam, betas (0.9, 0.999), epsilon 1e-8 (Keras' default is 1e-7).
- ``adamw``: AdamW with decoupled weight decay ``config.weight_decay`` (Keras'
  own default of 0.004 is never used).
- ``sgd``: SGD, momentum 0.9, Nesterov (timm's ``sgd``).
- ``rmsprop``: RMSprop, rho 0.9, momentum 0.9 (timm's ``rmsprop``). Keras adds
  epsilon inside the square root, PyTorch outside, so epsilon is 1e-16 here,
  the square of PyTorch's 1e-8.
- ``weight_decay`` for adam, sgd and rmsprop is PyTorch's: an L2 term
  ``weight_decay * w`` added to every gradient (all weights, biases and
  BatchNorm included) before the update. Keras' ``weight_decay`` argument would
  decay decoupled, AdamW-style.
- Schedules change the rate once per epoch, as timm's do: ``cosine`` is
  ``CosineDecay`` to 0 over the epochs, ``step`` multiplies by 0.1 every
  ``max(1, epochs // 3)`` epochs (``ExponentialDecay`` with staircase).
"""

from __future__ import annotations

from typing import Any

from zoo.api import TrainConfig
from zoo_keras.runtime import keras

ADAM_EPSILON = 1e-8
SGD_MOMENTUM = 0.9
RMSPROP_RHO = 0.9
RMSPROP_MOMENTUM = 0.9
RMSPROP_EPSILON = 1e-16  # inside the square root; PyTorch's 1e-8 is outside it
STEP_GAMMA = 0.1


def step_epochs(epochs: int) -> int:
    """Epochs between two decays of the ``step`` schedule."""
    return max(1, epochs // 3)


@keras.saving.register_keras_serializable(package="zoo_keras")
class PerEpoch(keras.optimizers.schedules.LearningRateSchedule):
    """Evaluates ``schedule`` at the epoch index (``step // steps_per_epoch``), not the step."""

    def __init__(self, schedule: Any, steps_per_epoch: int) -> None:
        self.schedule = schedule
        self.steps_per_epoch = int(steps_per_epoch)

    def __call__(self, step: Any) -> Any:
        return self.schedule(keras.ops.floor_divide(step, self.steps_per_epoch))

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "steps_per_epoch": self.steps_per_epoch,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PerEpoch:
        return cls(keras.saving.deserialize_keras_object(config["schedule"]), config["steps_per_epoch"])


def learning_rate(config: TrainConfig, steps_per_epoch: int) -> Any:
    """A float for ``scheduler="none"``, else a schedule that changes the rate at each epoch's start."""
    schedules = keras.optimizers.schedules
    if config.scheduler == "cosine":
        return PerEpoch(schedules.CosineDecay(config.lr, decay_steps=config.epochs, alpha=0.0), steps_per_epoch)
    if config.scheduler == "step":
        decay = schedules.ExponentialDecay(
            config.lr, decay_steps=step_epochs(config.epochs), decay_rate=STEP_GAMMA, staircase=True
        )
        return PerEpoch(decay, steps_per_epoch)
    return config.lr


class _CoupledL2:
    """Mixin: adds ``l2 * w`` to each gradient before the update, as PyTorch's ``weight_decay`` does."""

    l2: float = 0.0

    def apply(self, grads: Any, trainable_variables: Any = None) -> Any:
        variables = self._trainable_variables if trainable_variables is None else list(trainable_variables)
        grads = [
            g if g is None else g + keras.ops.cast(v, g.dtype) * self.l2
            for g, v in zip(grads, variables, strict=True)
        ]
        return super().apply(grads, trainable_variables)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "l2": self.l2}


def _with_l2(cls: type, l2: float, **kwargs: Any) -> Any:
    if not l2:
        return cls(**kwargs)
    coupled = type(f"{cls.__name__}L2", (_CoupledL2, cls), {"l2": float(l2)})
    return coupled(**kwargs)


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> Any:
    """The Keras optimizer ``config`` asks for."""
    lr = learning_rate(config, steps_per_epoch)
    opts = keras.optimizers
    if config.optimizer == "adamw":
        return opts.AdamW(learning_rate=lr, weight_decay=config.weight_decay, epsilon=ADAM_EPSILON)
    if config.optimizer == "sgd":
        return _with_l2(opts.SGD, config.weight_decay, learning_rate=lr, momentum=SGD_MOMENTUM, nesterov=True)
    if config.optimizer == "rmsprop":
        return _with_l2(
            opts.RMSprop, config.weight_decay, learning_rate=lr, rho=RMSPROP_RHO, momentum=RMSPROP_MOMENTUM,
            epsilon=RMSPROP_EPSILON,
        )
    return _with_l2(opts.Adam, config.weight_decay, learning_rate=lr, epsilon=ADAM_EPSILON)
