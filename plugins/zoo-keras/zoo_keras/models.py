"""The four AlexNet variants in Keras 3, layer for layer as zoo-torch builds them.

Every builder takes ``num_classes``, ``in_chans`` and ``img_size=(H, W)`` and
returns a ``keras.Model`` whose layers carry the stage names both backends
share (``conv1``..``conv5``, ``bn1``.., ``pool1``.., ``block1``.., ``flatten``,
``fc1``..``fc3``), so a summary of one can be compared row by row with the
other. Outputs are logits. Parity choices (``docs/keras.md``): Keras' default
glorot-uniform kernels and zero biases; BatchNorm momentum 0.9 (PyTorch's 0.1)
and epsilon 1e-5; TensorFlow's "same" padding.

``alexnet_res`` and the CIFAR-10 tutorial: the tutorial defines a residual
block function and calls it with ``inputs=None`` inside a ``Sequential`` list,
which cannot run (a Sequential model has no tensor to pass to the block, and
the addition needs both the block's input and output). Here the model uses
the functional API; each bottleneck block is a small functional model named
``block1``..``block4`` (1x1 reduce to f/4, 3x3, 1x1 expand to f, each convolution
without bias and followed by BatchNorm; identity shortcut when the channel
count is unchanged, otherwise a 1x1 projection with BatchNorm; add, ReLU), so
the model's top level reads like the tutorial and the table names whole
blocks. The tutorial's block sizes (256, 384, 384, 256 filters) are kept.
"""

from __future__ import annotations

from typing import Any

from zoo.api import ModelSpec, alexnet_specs, check_input_size
from zoo_keras.layers import LocalResponseNormalization
from zoo_keras.runtime import keras

layers = keras.layers

BN_MOMENTUM = 0.9  # Keras' convention; PyTorch's momentum=0.1
BN_EPSILON = 1e-5


def _spec(builder: str) -> ModelSpec:
    for spec in alexnet_specs("keras", __name__):
        if spec.builder.endswith(f":{builder}"):
            return spec
    raise LookupError(builder)  # pragma: no cover - zoo.families lists every builder here


def _check(builder: str, in_chans: int, img_size: tuple[int, int]) -> Any:
    """Refuse sizes below the variant's minimum with a one-line UsageError; return the Input."""
    check_input_size(_spec(builder), tuple(img_size))
    return keras.Input(shape=(int(img_size[0]), int(img_size[1]), int(in_chans)), name="image")


def _bn(name: str) -> Any:
    return layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _conv(filters: int, kernel: int, name: str, *, strides: int = 1, padding: str = "same",
          use_bias: bool = True, activation: str | None = None) -> Any:
    return layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=use_bias,
                         activation=activation, name=name)


def _head(num_classes: int, hidden: int, *, dropout_first: bool) -> list[Any]:
    """flatten, fc1, fc2 (ReLU, dropout 0.5) and the fc3 logits.

    ``dropout_first``: classic AlexNet drops before each hidden dense layer;
    the tutorials drop after it.
    """
    fc1 = layers.Dense(hidden, activation="relu", name="fc1")
    fc2 = layers.Dense(hidden, activation="relu", name="fc2")
    drop1, drop2 = layers.Dropout(0.5, name="drop1"), layers.Dropout(0.5, name="drop2")
    body = [drop1, fc1, drop2, fc2] if dropout_first else [fc1, drop1, fc2, drop2]
    # The logits stay float32 under a mixed_bfloat16 policy, as Keras' guide advises.
    return [layers.Flatten(name="flatten"), *body, layers.Dense(num_classes, name="fc3", dtype="float32")]


def _chain(x: Any, stack: list[Any]) -> Any:
    for layer in stack:
        x = layer(x)
    return x


def alexnet(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    """Classic single-tower AlexNet (Krizhevsky et al., 2012) with LRN, at 227 px natively."""
    inputs = _check("alexnet", in_chans, img_size)
    stack = [
        _conv(96, 11, "conv1", strides=4, padding="valid", activation="relu"),
        LocalResponseNormalization(5, 1e-4, 0.75, 2.0, name="lrn1"),
        layers.MaxPooling2D(3, 2, name="pool1"),
        _conv(256, 5, "conv2", activation="relu"),
        LocalResponseNormalization(5, 1e-4, 0.75, 2.0, name="lrn2"),
        layers.MaxPooling2D(3, 2, name="pool2"),
        _conv(384, 3, "conv3", activation="relu"),
        _conv(384, 3, "conv4", activation="relu"),
        _conv(256, 3, "conv5", activation="relu"),
        layers.MaxPooling2D(3, 2, name="pool5"),
        *_head(num_classes, 4096, dropout_first=True),
    ]
    return keras.Model(inputs, _chain(inputs, stack), name="alexnet")


def alexnet_bn(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    """The MNIST tutorial's Sequential AlexNet: conv+ReLU then BatchNorm, average-pool head."""
    inputs = _check("alexnet_bn", in_chans, img_size)
    return keras.Sequential(
        [
            inputs,
            _conv(96, 11, "conv1", strides=4, activation="relu"),
            _bn("bn1"),
            _conv(256, 5, "conv2", activation="relu"),
            _bn("bn2"),
            layers.MaxPooling2D(3, 2, name="pool2"),
            _conv(384, 3, "conv3", activation="relu"),
            _bn("bn3"),
            _conv(384, 3, "conv4", activation="relu"),
            _bn("bn4"),
            _conv(256, 3, "conv5", activation="relu"),
            _bn("bn5"),
            layers.AveragePooling2D(3, 2, name="pool5"),
            *_head(num_classes, 4096, dropout_first=False),
        ],
        name="alexnet_bn",
    )


def _bottleneck(x: Any, filters: int, name: str) -> Any:
    """One bottleneck residual block as a nested functional model called ``name``."""
    inputs = keras.Input(shape=tuple(x.shape[1:]), name=f"{name}_input")
    width = filters // 4
    y = _conv(width, 1, "conv_a", use_bias=False)(inputs)
    y = layers.ReLU(name="relu_a")(_bn("bn_a")(y))
    y = _conv(width, 3, "conv_b", use_bias=False)(y)
    y = layers.ReLU(name="relu_b")(_bn("bn_b")(y))
    y = _bn("bn_c")(_conv(filters, 1, "conv_c", use_bias=False)(y))
    shortcut = inputs
    if inputs.shape[-1] != filters:
        shortcut = _bn("proj_bn")(_conv(filters, 1, "proj_conv", use_bias=False)(inputs))
    out = layers.ReLU(name="relu")(layers.Add(name="add")([y, shortcut]))
    return keras.Model(inputs, out, name=name)(x)


def alexnet_res(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    """The CIFAR-10 tutorial's AlexNet with four bottleneck residual blocks (functional API)."""
    inputs = _check("alexnet_res", in_chans, img_size)
    x = _conv(96, 11, "conv1", strides=4, use_bias=False)(inputs)
    x = layers.ReLU(name="relu1")(_bn("bn1")(x))
    x = layers.MaxPooling2D(3, 2, name="pool1")(x)
    for index, filters in enumerate((256, 384, 384, 256), start=1):
        x = _bottleneck(x, filters, f"block{index}")
    x = layers.MaxPooling2D(3, 2, name="pool5")(x)
    outputs = _chain(x, _head(num_classes, 4096, dropout_first=False))
    return keras.Model(inputs, outputs, name="alexnet_res")


def alexnet_small(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    """AlexNet's 5-conv/3-FC shape for 28-32 px: stride-1 5x5 stem, BatchNorm, 'same' pools."""
    inputs = _check("alexnet_small", in_chans, img_size)
    stack: list[Any] = []
    convs = ((96, 5, True), (256, 5, True), (384, 3, False), (384, 3, False), (256, 3, True))
    for index, (filters, kernel, pooled) in enumerate(convs, start=1):
        stack += [_conv(filters, kernel, f"conv{index}", use_bias=False), _bn(f"bn{index}"),
                  layers.ReLU(name=f"relu{index}")]
        if pooled:
            stack.append(layers.MaxPooling2D(3, 2, padding="same", name=f"pool{index}"))
    stack += _head(num_classes, 1024, dropout_first=True)
    return keras.Model(inputs, _chain(inputs, stack), name="alexnet_small")
