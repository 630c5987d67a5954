"""What zoo loads (entry point ``lenet`` in the ``zoo.plugins`` group): metadata only.

Importing this module imports neither torch, keras nor scikit-learn: the
builders and the loader are ``"module:function"`` strings that zoo resolves
only when a model is built or the dataset is read.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo.api import DatasetSpec, LayerMap, ModelSpec, WeightMap, hookimpl

zoo_plugin_api = ">=2.0,<3"  # written for zoo plugin API 2.x

LECUN_1998 = (
    "LeCun, Bottou, Bengio, Haffner (1998), Gradient-Based Learning Applied to Document Recognition, "
    "Proceedings of the IEEE 86(11)"
)
NOTES = (
    "conv 5x5x6, max-pool 2, conv 5x5x16, max-pool 2, fc 120, fc 84, fc N (logits), ReLU after every "
    "layer but the last. Modern choices in place of the paper's: ReLU for the scaled tanh, max-pooling "
    "for trainable subsampling, C3 fully connected to S2 (no connection table), a linear head for the "
    "RBF units. Glorot-uniform weights and zero biases in both backends. Native input 32x32; inputs "
    "from 28x28 up to 32x32 are zero-padded to 32x32 inside the model (the paper's own treatment of "
    "MNIST's 28x28 digits); larger inputs are used as they are, the first dense layer sized to fit."
)


# The same layers in both builders, by the same names (ModelSpec.weight_map points here; docs/convert.md).
# fc1 reads the flattened 16-channel map, whose order differs between PyTorch (C, H, W) and Keras (H, W, C).
LENET5_WEIGHTS = WeightMap(layers=(
    LayerMap("conv1", "conv1", "conv"),
    LayerMap("conv2", "conv2", "conv"),
    LayerMap("fc1", "fc1", "dense", flatten="flatten"),
    LayerMap("fc2", "fc2", "dense"),
    LayerMap("fc3", "fc3", "dense"),
))


def lenet5_spec(backend: str) -> ModelSpec:
    """LeNet-5 as built by ``zoo_lenet.<backend>_models:lenet5``."""
    return ModelSpec(
        name=f"lenet5-{backend}",
        backend=backend,
        family="lenet5",
        builder=f"zoo_lenet.{backend}_models:lenet5",
        summary="LeNet-5: 2 conv (6, 16 filters 5x5) + 3 dense (120, 84, N), 32x32 grey input",
        input_size=(1, 32, 32),
        min_img_size=(28, 28),
        reference=LECUN_1998,
        license="architecture: public paper",
        recipe={"batch_size": 32},
        notes=NOTES,
        weight_map="zoo_lenet.plugin:LENET5_WEIGHTS",
    )


DIGITS = DatasetSpec(
    name="digits",
    summary="scikit-learn's 8x8 handwritten digits upscaled to 32x32 grey, 1,438 train / 359 test",
    files=(),  # the loader reads the copy bundled with scikit-learn: nothing to download
    loader="zoo_lenet.digits:load",
    classes=tuple(str(digit) for digit in range(10)),
    shape=(32, 32, 1),
    mean=(0.3055,),  # of the train split, in [0, 1] units (tests/test_lenet.py recomputes them)
    std=(0.3754,),
    homepage="https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits",
    license="CC BY 4.0",
)


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """LeNet-5 for the torch and keras backends."""
    for backend in ("torch", "keras"):
        register(lenet5_spec(backend))


@hookimpl
def zoo_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """The digits dataset."""
    register(DIGITS)
