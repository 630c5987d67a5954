"""Framework-free metadata of model families that several backends implement.

The design promises that a variant name means the same network and the same
recipe in every backend, so the metadata lives here once and each backend
plugin registers it with its own builders::

    for spec in alexnet_specs("torch", "zoo_torch.models"):
        register(spec)

A third-party backend (say a JAX one) gets ``alexnet-jax*`` the same way, by
providing ``alexnet``, ``alexnet_bn``, ``alexnet_res`` and ``alexnet_small`` in
its module. ``tests/test_parity.py`` checks that the backends' networks match.
"""

from __future__ import annotations

from zoo.api.specs import ModelSpec

KRIZHEVSKY = (
    "Krizhevsky, Sutskever, Hinton (2012), ImageNet Classification with Deep "
    "Convolutional Neural Networks, NeurIPS"
)
MNIST_TUTORIAL = "AlexNet in Keras on MNIST tutorial (BatchNorm after every conv, average-pool head)"
CIFAR_TUTORIAL = "AlexNet in Keras on CIFAR-10 tutorial (BatchNorm plus bottleneck residual blocks)"


def alexnet_specs(backend: str, module: str) -> list[ModelSpec]:
    """The four AlexNet variants for ``backend``, built by functions in ``module``."""
    return [
        ModelSpec(
            name=f"alexnet-{backend}",
            backend=backend,
            family="alexnet",
            variant="",
            builder=f"{module}:alexnet",
            summary="Classic AlexNet (LRN, overlapping pools) at 227 px; smaller data is resized up",
            input_size=(3, 227, 227),
            min_img_size=(67, 67),
            reference=KRIZHEVSKY,
            license="architecture: public paper",
            notes=(
                "Single tower (the paper's two-GPU split merged). Input 227x227, not 224: 227 gives the "
                "55x55 map after conv1 without padding. LRN(size 5, alpha 1e-4, beta 0.75, k 2) with alpha "
                "divided by the size, as torch.nn.LocalResponseNorm. Data below 67x67 is resized to 227x227 "
                "on the device, per batch."
            ),
        ),
        ModelSpec(
            name=f"alexnet-{backend}-bn",
            backend=backend,
            family="alexnet",
            variant="bn",
            builder=f"{module}:alexnet_bn",
            summary="The MNIST tutorial's AlexNet: BatchNorm after every conv, average-pool head",
            input_size=(1, 28, 28),
            min_img_size=(25, 25),
            reference=MNIST_TUTORIAL,
            license="architecture: public tutorial",
            recipe={"epochs": 30, "scheduler": "cosine", "min_image_size": 56, "label_smoothing": 0.1},
            notes=(
                "Conv + ReLU, then BatchNorm (momentum 0.1 in PyTorch's convention, 0.9 in Keras', epsilon "
                '1e-5); TensorFlow "same" padding; glorot-uniform weights, zero biases. 256 features before '
                "fc1 at 28x28, 1,024 at 56x56. Recipe: the tutorial's Adam 1e-3, batch 128, with 30 epochs "
                "instead of 10, the rate decayed by a per-epoch cosine to 0, label smoothing 0.1, and images "
                "below 56 px resized up to 56 on the device, larger ones kept as they are (at 56x56 the stride-4 "
                "stem leaves 14x14 maps, not 7x7; 3.3x the MACs of 28 px). With the datasets' default shift "
                "augmentation it took alexnet-torch-bn on full Fashion-MNIST from 89.98% (the tutorial's "
                "recipe) to 93.11% test top-1 (mean of seeds 0-2) and on MNIST from 98.71% to 99.60% "
                "(mean of seeds 0-2; docs/benchmarks.md). On 28 px data, "
                "--epochs 10 --scheduler none --augment none --label-smoothing 0 --image-size 28 is the "
                "tutorial's."
            ),
        ),
        ModelSpec(
            name=f"alexnet-{backend}-res",
            backend=backend,
            family="alexnet",
            variant="res",
            builder=f"{module}:alexnet_res",
            summary="The CIFAR-10 tutorial's AlexNet with bottleneck residual blocks, its call bug fixed",
            input_size=(3, 32, 32),
            min_img_size=(25, 25),
            reference=CIFAR_TUTORIAL,
            license="architecture: public tutorial",
            notes=(
                "The tutorial called its residual block with inputs=None inside Sequential, which cannot "
                "run; here each bottleneck block (1x1, 3x3, 1x1, BatchNorm after each) keeps its own input "
                "for the shortcut: identity when the channels match, else a 1x1 projection plus BatchNorm."
            ),
        ),
        ModelSpec(
            name=f"alexnet-{backend}-small",
            backend=backend,
            family="alexnet",
            variant="small",
            builder=f"{module}:alexnet_small",
            summary="AlexNet's 5-conv/3-FC shape for 28-32 px: stride-1 stem, BatchNorm after each conv",
            input_size=(3, 32, 32),
            min_img_size=(8, 8),
            reference=KRIZHEVSKY + "; adapted to small images",
            license="architecture: public paper",
            notes=(
                'Stride-1 5x5 stem and three TensorFlow-"same" 3x3/2 max pools, so 28-32 px images keep a '
                "4x4x256 map before flatten; conv, BatchNorm, ReLU (convs without bias); fc1/fc2 1024 wide."
            ),
        ),
    ]
