"""Keras Applications as zoo models, ``keras/<name>``: the table, framework-free.

Each row: zoo's name, the ``keras.applications`` function, native square size, the minimum size
Keras' own input check enforces (``obtain_input_shape``'s ``min_size``; 75 for InceptionV3 and
InceptionResNetV2, 71 for Xception, 32 for the rest) and the paper. The builders live in
:mod:`zoo_keras.applications`.
"""

from __future__ import annotations

from zoo.api import CROSS_FRAMEWORK_PAIRS, ModelSpec

PREFIX = "keras/"

_CONVNEXT = "Liu et al. (2022), A ConvNet for the 2020s, arXiv:2201.03545"
_DENSENET = "Huang et al. (2017), Densely Connected Convolutional Networks, arXiv:1608.06993"
_EFFICIENTNET = "Tan, Le (2019), EfficientNet: Rethinking Model Scaling for CNNs, arXiv:1905.11946"
_EFFICIENTNET_V2 = "Tan, Le (2021), EfficientNetV2: Smaller Models and Faster Training, arXiv:2104.00298"
_MOBILENET = "Howard et al. (2017), MobileNets, arXiv:1704.04861"
_MOBILENET_V2 = "Sandler et al. (2018), MobileNetV2: Inverted Residuals and Linear Bottlenecks, arXiv:1801.04381"
_MOBILENET_V3 = "Howard et al. (2019), Searching for MobileNetV3, arXiv:1905.02244"
_NASNET = "Zoph et al. (2018), Learning Transferable Architectures for Scalable Image Recognition, arXiv:1707.07012"
_RESNET = "He et al. (2016), Deep Residual Learning for Image Recognition, arXiv:1512.03385"
_RESNET_V2 = "He et al. (2016), Identity Mappings in Deep Residual Networks, arXiv:1603.05027"
_VGG = "Simonyan, Zisserman (2015), Very Deep Convolutional Networks, arXiv:1409.1556"
_INCEPTION_V3 = "Szegedy et al. (2016), Rethinking the Inception Architecture, arXiv:1512.00567"
_INCEPTION_RESNET = "Szegedy et al. (2017), Inception-v4, Inception-ResNet, arXiv:1602.07261"
_XCEPTION = "Chollet (2017), Xception: Deep Learning with Depthwise Separable Convolutions, arXiv:1610.02357"

# name: (keras.applications function, native side, minimum side, family, paper)
APPLICATIONS: dict[str, tuple[str, int, int, str, str]] = {
    **{f"convnext_{size}": (f"ConvNeXt{size.capitalize()}".replace("Xlarge", "XLarge"), 224, 32, "convnext",
                            _CONVNEXT) for size in ("tiny", "small", "base", "large", "xlarge")},
    **{f"densenet{depth}": (f"DenseNet{depth}", 224, 32, "densenet", _DENSENET) for depth in (121, 169, 201)},
    **{f"efficientnet_b{i}": (f"EfficientNetB{i}", side, 32, "efficientnet", _EFFICIENTNET)
       for i, side in enumerate((224, 240, 260, 300, 380, 456, 528, 600))},
    **{f"efficientnet_v2_{v}": (f"EfficientNetV2{v.upper()}", side, 32, "efficientnet_v2", _EFFICIENTNET_V2)
       for v, side in (("b0", 224), ("b1", 240), ("b2", 260), ("b3", 300), ("s", 384), ("m", 480), ("l", 480))},
    "inception_resnet_v2": ("InceptionResNetV2", 299, 75, "inception_resnet_v2", _INCEPTION_RESNET),
    "inception_v3": ("InceptionV3", 299, 75, "inception_v3", _INCEPTION_V3),
    "mobilenet": ("MobileNet", 224, 32, "mobilenet", _MOBILENET),
    "mobilenet_v2": ("MobileNetV2", 224, 32, "mobilenet_v2", _MOBILENET_V2),
    "mobilenet_v3_small": ("MobileNetV3Small", 224, 32, "mobilenet_v3", _MOBILENET_V3),
    "mobilenet_v3_large": ("MobileNetV3Large", 224, 32, "mobilenet_v3", _MOBILENET_V3),
    "nasnet_mobile": ("NASNetMobile", 224, 32, "nasnet", _NASNET),
    "nasnet_large": ("NASNetLarge", 331, 32, "nasnet", _NASNET),
    **{f"resnet{depth}": (f"ResNet{depth}", 224, 32, "resnet", _RESNET) for depth in (50, 101, 152)},
    **{f"resnet{depth}_v2": (f"ResNet{depth}V2", 224, 32, "resnet_v2", _RESNET_V2) for depth in (50, 101, 152)},
    "vgg16": ("VGG16", 224, 32, "vgg", _VGG),
    "vgg19": ("VGG19", 224, 32, "vgg", _VGG),
    "xception": ("Xception", 299, 71, "xception", _XCEPTION),
}


def size_policy(native: int, minimum: int) -> str:
    """What zoo does with images below the application's minimum, for ``zoo info``."""
    return (f"Minimum input {minimum}x{minimum} px, Keras' own check for this application; data below it (28 px "
            f"Fashion-MNIST) is resized up to the native {native}x{native} on the device, as the AlexNets' is; "
            f"--image-size {minimum} or more trains at that size instead.")


def application_spec(name: str) -> ModelSpec:
    """The ModelSpec of ``keras/<name>``."""
    function, native, minimum, family, paper = APPLICATIONS[name]
    pair = CROSS_FRAMEWORK_PAIRS.get(name)
    notes = size_policy(native, minimum)
    if pair is not None:
        family = name
        notes += f" Cross-framework pair of timm's (zoo compare --family {name}): {pair}"
    notes += (f" Built by keras.applications.{function}(weights=None, include_top=True, classes=..., "
              "input_shape=(H, W, C)); include_preprocessing=False where Keras offers it, as zoo normalises.")
    return ModelSpec(
        name=PREFIX + name,
        backend="keras",
        family=family,
        variant="" if family == name else name,
        builder=f"zoo_keras.applications:{name}",
        summary=f"Keras Applications {function} ({paper.split(',')[0]})",
        input_size=(3, native, native),
        min_img_size=(minimum, minimum),
        reference=paper,
        license="Apache-2.0 (Keras)",
        notes=notes,
        pretrained="zoo_keras.applications:load_pretrained",
    )


def specs() -> list[ModelSpec]:
    """Every application's spec."""
    return [application_spec(name) for name in APPLICATIONS]
