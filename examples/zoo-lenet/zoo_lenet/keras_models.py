"""LeNet-5 in Keras 3 (``lenet5-keras``). keras is imported when a model is built."""

from __future__ import annotations

from typing import Any

from zoo_lenet.geometry import padding


def lenet5(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    """A ``keras.Model`` LeNet-5 returning logits for ``(N, H, W, in_chans)`` inputs.

    Keras' default glorot-uniform kernels and zero biases, as lenet5-torch sets them.
    """
    import keras
    from keras import layers

    pads = padding(img_size)
    inputs = keras.Input(shape=(int(img_size[0]), int(img_size[1]), int(in_chans)), name="image")
    x = layers.ZeroPadding2D(pads, name="pad")(inputs) if any(sum(p) for p in pads) else inputs
    x = layers.Conv2D(6, 5, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(16, 5, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation="relu", name="fc1")(x)
    x = layers.Dense(84, activation="relu", name="fc2")(x)
    outputs = layers.Dense(num_classes, name="fc3")(x)
    return keras.Model(inputs, outputs, name="lenet5")
