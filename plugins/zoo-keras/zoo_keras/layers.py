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

    On the TensorFlow backend an odd-sized window (symmetric, as TensorFlow's op
    needs) runs TensorFlow's fused LRN op in float32, whose native gradient is
    several times faster than differentiating the sum of slices
    (``benchmarks/bench_lrn.py``); other backends and even sizes use ``keras.ops``.
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
        """Normalise channels-last ``inputs`` across their last axis."""
        if self.size % 2 == 1 and keras.backend.backend() == "tensorflow":
            return lrn_tensorflow(inputs, self.size, self.alpha, self.beta, self.k)
        return lrn_ops(inputs, self.size, self.alpha, self.beta, self.k)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(size=self.size, alpha=self.alpha, beta=self.beta, k=self.k)
        return config


def lrn_ops(inputs: Any, size: int, alpha: float, beta: float, k: float) -> Any:
    """LRN over the last axis with ``keras.ops`` (any backend): a sum of shifted slices of the squares."""
    squares = ops.square(inputs)
    before = size // 2
    padded = ops.pad(squares, [[0, 0]] * (len(inputs.shape) - 1) + [[before, size - 1 - before]])
    channels = inputs.shape[-1]
    window = padded[..., 0:channels]
    for offset in range(1, size):
        window = window + padded[..., offset : offset + channels]
    return inputs / ops.power(k + (alpha / size) * window, beta)


def lrn_tensorflow(inputs: Any, size: int, alpha: float, beta: float, k: float) -> Any:
    """LRN over the last axis with TensorFlow's fused op; ``size`` must be odd (its window is symmetric)."""
    import tensorflow as tf

    # TensorFlow's LRN kernel takes float32 only (bfloat16 has none; float16 fails under XLA).
    normalised = tf.nn.local_response_normalization(
        tf.cast(inputs, "float32"), depth_radius=size // 2, bias=k, alpha=alpha / size, beta=beta
    )
    return tf.cast(normalised, inputs.dtype)
