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

from zoo.api.conversion import LayerMap, WeightMap
from zoo.api.specs import ModelSpec

KRIZHEVSKY = (
    "Krizhevsky, Sutskever, Hinton (2012), ImageNet Classification with Deep "
    "Convolutional Neural Networks, NeurIPS"
)
MNIST_TUTORIAL = "AlexNet in Keras on MNIST tutorial (BatchNorm after every conv, average-pool head)"
CIFAR_TUTORIAL = "AlexNet in Keras on CIFAR-10 tutorial (BatchNorm plus bottleneck residual blocks)"


def _convs_and_head(batchnorm: bool) -> tuple[LayerMap, ...]:
    """conv1..conv5 (with bn1..bn5), then the flatten-fed fc1, fc2 and fc3: the same names in both backends."""
    layers = []
    for i in range(1, 6):
        layers.append(LayerMap(f"conv{i}", f"conv{i}", "conv"))
        if batchnorm:
            layers.append(LayerMap(f"bn{i}", f"bn{i}", "batchnorm"))
    return (*layers, LayerMap("fc1", "fc1", "dense", flatten="flatten"), LayerMap("fc2", "fc2", "dense"),
            LayerMap("fc3", "fc3", "dense"))


def _residual() -> tuple[LayerMap, ...]:
    """alexnet_res: the stem, then four bottleneck blocks (torch ``Bottleneck``, Keras nested models)."""
    layers = [LayerMap("conv1", "conv1", "conv"), LayerMap("bn1", "bn1", "batchnorm")]
    for i, projected in enumerate((True, True, False, True), start=1):  # 96->256->384->384->256
        for torch_i, keras_i in (("1", "a"), ("2", "b"), ("3", "c")):
            layers += [LayerMap(f"block{i}.conv{torch_i}", f"block{i}/conv_{keras_i}", "conv"),
                       LayerMap(f"block{i}.bn{torch_i}", f"block{i}/bn_{keras_i}", "batchnorm")]
        if projected:
            layers += [LayerMap(f"block{i}.shortcut.0", f"block{i}/proj_conv", "conv"),
                       LayerMap(f"block{i}.shortcut.1", f"block{i}/proj_bn", "batchnorm")]
    return (*layers, LayerMap("fc1", "fc1", "dense", flatten="flatten"), LayerMap("fc2", "fc2", "dense"),
            LayerMap("fc3", "fc3", "dense"))


# The weight maps zoo-torch's and zoo-keras' AlexNet variants share (ModelSpec.weight_map names them).
ALEXNET_MAP = WeightMap(_convs_and_head(batchnorm=False))
ALEXNET_BN_MAP = WeightMap(_convs_and_head(batchnorm=True))
ALEXNET_RES_MAP = WeightMap(_residual())
ALEXNET_SMALL_MAP = WeightMap(_convs_and_head(batchnorm=True))


def alexnet_specs(backend: str, module: str) -> list[ModelSpec]:
    """The four AlexNet variants for ``backend``, built by functions in ``module``."""
    return [
        ModelSpec(
            name=f"alexnet-{backend}",
            backend=backend,
            family="alexnet",
            variant="",
            builder=f"{module}:alexnet",
            weight_map="zoo.api.families:ALEXNET_MAP",
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
            weight_map="zoo.api.families:ALEXNET_BN_MAP",
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
            weight_map="zoo.api.families:ALEXNET_RES_MAP",
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
            weight_map="zoo.api.families:ALEXNET_SMALL_MAP",
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


# Architectures that timm (zoo-timm, ``timm/<name>``) and Keras Applications (zoo-keras, ``keras/<name>``)
# both define: the family both share, and where the two definitions differ (``zoo info`` shows it).
_OWN_INIT = "Initialisation follows each library's own defaults (timm's per-model schemes, Keras' glorot-uniform)."
CROSS_FRAMEWORK_PAIRS: dict[str, str] = {
    "resnet50": (
        "timm/resnet50 is ResNet-B (torchvision's 'v1.5'): each stage's stride 2 sits in the 3x3 conv, convs "
        "have no bias, BatchNorm epsilon 1e-5, stem conv and max-pool padded by PyTorch (3, 1). keras/resnet50 "
        "is the paper's v1: stride 2 in the first 1x1 conv, every conv with a bias (about 26k more parameters), "
        "BatchNorm epsilon 1.001e-5, ZeroPadding2D then 'valid' conv and pool (same output sizes). Both: "
        f"bottlenecks 3-4-6-3, 2048 features, global average pool, one linear head. {_OWN_INIT}"
    ),
    "mobilenet_v2": (
        "timm/mobilenetv2_100 pads its stride-2 convs symmetrically (PyTorch padding k//2) and uses BatchNorm "
        "epsilon 1e-5; keras/mobilenet_v2 pads them by ZeroPadding2D(correct_pad): 0 top-left, 1 bottom-right on "
        "even sizes (TensorFlow 'same'), and uses BatchNorm epsilon 1e-3, momentum 0.999 (PyTorch's 0.001). Same "
        "blocks, widths (alpha 1.0), 1280-wide last conv, ReLU6 and trainable parameters; neither drops out. "
        f"{_OWN_INIT}"
    ),
    "efficientnet_b0": (
        "timm/efficientnet_b0 pads symmetrically (PyTorch) with BatchNorm epsilon 1e-5 and no dropout or drop "
        "path unless asked; keras/efficientnet_b0 pads stride-2 convs TensorFlow-'same' (ZeroPadding2D), uses "
        "BatchNorm epsilon 1e-3, top dropout 0.2 and drop-connect 0.2 in its blocks, and keeps its own "
        "Rescaling(1/255) and Normalization layers at the input (Keras' EfficientNet cannot leave them out; zoo's "
        "normalisation comes before them, and the stem's BatchNorm absorbs the scale). timm/tf_efficientnet_b0 is "
        f"timm's port of the TensorFlow definition ('same' padding, epsilon 1e-3). {_OWN_INIT}"
    ),
    "densenet121": (
        "The same DenseNet-BC 121 (growth 32, blocks 6-12-24-16, compression 0.5, convs without bias, the same "
        "trainable parameters); timm/densenet121 uses BatchNorm epsilon 1e-5 and PyTorch padding in its 7x7/2 stem "
        "and max-pool, keras/densenet121 epsilon 1.001e-5 and ZeroPadding2D before 'valid' ones (same output "
        f"sizes). {_OWN_INIT}"
    ),
    "vgg16": (
        "The same 13 convs (3x3, with biases, no BatchNorm) and five max-pools, but not the same head. timm/vgg16 "
        "runs fc6/fc7 as convolutions (7x7 then 1x1, 4096 wide) on the feature map, average-pooled up to 7x7 when "
        "smaller, then global pool and a linear head, so it has 134M+ parameters at every input size. keras/vgg16 "
        "flattens the feature map into two 4096-wide dense layers: the same count at 224 px, but at 32 px the map is "
        f"1x1x512 and the model has about 33.6M. Neither drops out by default. {_OWN_INIT}"
    ),
    "convnext_tiny": (
        "The same ConvNeXt-T (4x4/4 patchify stem, depths 3-3-9-3, widths 96-768, 7x7 depthwise convs, LayerNorm "
        "epsilon 1e-6, layer scale 1e-6, no drop path by default, pooled LayerNorm then linear head, the same "
        "trainable parameters). keras/convnext_tiny is built with include_preprocessing=False (zoo normalises the "
        f"images); timm's block MLP is nn.Linear on channels-last maps, as Keras' Dense is. {_OWN_INIT}"
    ),
}
