"""Layers Keras lacks, written with ``keras.ops`` so they run on every Keras backend."""

from __future__ import annotations

from typing import Any

from zoo_keras.runtime import keras

ops = keras.ops


@keras.saving.register_keras_serializable(package="zoo_keras")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalisation across channels, exactly as ``torch.nn.LocalResponseNorm``.

    For channels-last inputs, ``b_c = a_c / (k + alpha / size * sum(a_j ** 2)) ** beta``
    where ``j`` runs over the ``size`` channels ``c - size // 2 .. c + (size - 1) // 2``
    (channels outside the tensor count as zero). Note that ``alpha`` is divided by
    ``size``, as PyTorch does; ``tf.nn.local_response_normalization`` does not.
    """

    def __init__(
        self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if size < 1:
            raise ValueError(f"LocalResponseNormalization size must be at least 1, got {size}")
        self.size = int(size)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)

    def call(self, inputs: Any) -> Any:
        squares = ops.square(inputs)
        before = self.size // 2
        padded = ops.pad(squares, [[0, 0]] * (len(inputs.shape) - 1) + [[before, self.size - 1 - before]])
        channels = inputs.shape[-1]
        window = padded[..., 0:channels]
        for offset in range(1, self.size):
            window = window + padded[..., offset : offset + channels]
        return inputs / ops.power(self.k + (self.alpha / self.size) * window, self.beta)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(size=self.size, alpha=self.alpha, beta=self.beta, k=self.k)
        return config
