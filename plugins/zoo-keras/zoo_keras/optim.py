"""Optimizers and learning-rate schedules from a :class:`zoo.config.TrainConfig`, PyTorch's semantics.

- ``adam``: Adam, epsilon 1e-8 (PyTorch's; Keras' default is 1e-7).
- ``adamw``: AdamW with decoupled weight decay ``config.weight_decay`` (Keras'
  own default of 0.004 is never used).
- ``sgd``: SGD with momentum 0.9.
- ``rmsprop``: RMSprop with PyTorch's defaults, rho 0.99 and epsilon 1e-8.
- ``weight_decay`` for adam, sgd and rmsprop is PyTorch's: an L2 term
  ``weight_decay * w`` added to every gradient before the update (Keras'
  ``weight_decay`` argument would decay decoupled, AdamW-style).
- ``cosine``: cosine decay to 0 over all training steps, updated every step.
- ``step``: the rate times 0.1 every ``max(1, epochs // 3)`` epochs (PyTorch's
  ``StepLR(step_size, gamma=0.1)``).
"""

from __future__ import annotations

from typing import Any

from zoo.config import TrainConfig
from zoo_keras.runtime import keras

ADAM_EPSILON = 1e-8
SGD_MOMENTUM = 0.9
RMSPROP_RHO = 0.99
RMSPROP_EPSILON = 1e-8
STEP_GAMMA = 0.1


def step_epochs(epochs: int) -> int:
    """Epochs between two decays of the ``step`` schedule."""
    return max(1, epochs // 3)


def learning_rate(config: TrainConfig, steps_per_epoch: int) -> Any:
    """A float for ``scheduler="none"``, else a Keras ``LearningRateSchedule`` stepped per batch."""
    schedules = keras.optimizers.schedules
    if config.scheduler == "cosine":
        return schedules.CosineDecay(config.lr, decay_steps=max(1, config.epochs * steps_per_epoch), alpha=0.0)
    if config.scheduler == "step":
        return schedules.ExponentialDecay(
            config.lr,
            decay_steps=step_epochs(config.epochs) * steps_per_epoch,
            decay_rate=STEP_GAMMA,
            staircase=True,
        )
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
        return _with_l2(opts.SGD, config.weight_decay, learning_rate=lr, momentum=SGD_MOMENTUM)
    if config.optimizer == "rmsprop":
        return _with_l2(opts.RMSprop, config.weight_decay, learning_rate=lr, rho=RMSPROP_RHO, epsilon=RMSPROP_EPSILON)
    return _with_l2(opts.Adam, config.weight_decay, learning_rate=lr, epsilon=ADAM_EPSILON)
