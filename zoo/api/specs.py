"""The frozen records plugins register: models, datasets and backends.

Every field is plain data, so listing, filtering and describing never
import a framework. Code is reached through ``"package.module:attribute"``
references resolved by :func:`zoo.loading.load_object` only when needed.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import Any

from zoo.api.errors import PluginError

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# A model name may carry one namespace, as ``timm/resnet18`` and ``keras/resnet50`` do.
_MODEL_NAME = re.compile(r"^([a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*$")
_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _check_name(kind: str, name: str) -> None:
    if not (_MODEL_NAME if kind == "model" else _NAME).match(name):
        namespace = " (and one '/' after a namespace, as in timm/resnet18)" if kind == "model" else ""
        raise PluginError(
            f"invalid {kind} name {name!r}: use lower-case letters, digits, '.', '_' and '-'{namespace}"
        )


def _check_reference(kind: str, name: str, reference: str) -> None:
    if not _REFERENCE.match(reference):
        raise PluginError(
            f"{kind} {name!r} has builder reference {reference!r}; expected 'package.module:function'"
        )


@dataclass(frozen=True)
class ModelSpec:
    """Metadata for one model plus a lazy reference to the function that builds it.

    Attributes:
        name: unique, lower case, ``family-backend[-variant]`` (``alexnet-torch-bn``), or
            ``namespace/name`` for a library's catalogue (``timm/resnet18``, ``keras/resnet50``).
        backend: name of the backend that builds and trains it (``torch``, ``keras``).
        family: architecture family (``alexnet``); several backends may share one, which makes
            them a cross-framework pair (``resnet50``: ``timm/resnet50`` and ``keras/resnet50``).
        builder: ``"package.module:function"``; called as
            ``builder(num_classes=..., in_chans=..., img_size=(H, W))`` (see :func:`zoo.api.call_builder`).
        variant: what distinguishes it inside the family (``bn``); ``""`` for the base.
        summary: one line for ``zoo list``.
        input_size: native input as ``(channels, height, width)`` (timm's ``input_size``).
        min_img_size: smallest ``(height, width)`` the network accepts (timm's ``img_size`` is
            (H, W) too); data smaller than this is resized to the native size by the backend's adapter.
            ``min_input_size=`` is its name before plugin API 2.0, still accepted with a warning.
        reference: the paper or tutorial the model reproduces.
        license: licence of the architecture or code it follows.
        recipe: default training settings that override :class:`zoo.api.TrainConfig`
            defaults for this model (``{"lr": 1e-3, "epochs": 10}``).
        notes: longer text shown by ``zoo info`` (deviations from the reference).
        weight_map: ``"package.module:attribute"`` naming the :class:`zoo.api.WeightMap` this model
            shares with its twin in the other backend (same family and variant), for ``zoo convert``;
            ``""`` when it has none.
        pretrained: ``"package.module:function"`` that loads pretrained weights into a model the
            builder made, called as ``loader(model, weights=PATH_OR_NONE)`` (see
            :func:`zoo.api.load_pretrained`); ``""`` when the model has none. It reads local files
            only and never unpickles; without a local copy it raises a ``UsageError`` naming
            where to put the file.
    """

    name: str
    backend: str
    family: str
    builder: str
    variant: str = ""
    summary: str = ""
    input_size: tuple[int, int, int] = (3, 224, 224)
    min_img_size: tuple[int, int] = (1, 1)
    reference: str = ""
    license: str = ""
    recipe: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""
    weight_map: str = ""
    pretrained: str = ""
    min_input_size: InitVar[tuple[int, int] | None] = None

    def __post_init__(self, min_input_size: tuple[int, int] | None) -> None:
        _check_name("model", self.name)
        _check_reference("model", self.name, self.builder)
        if self.weight_map:
            _check_reference("model", self.name, self.weight_map)
        if self.pretrained:
            _check_reference("model", self.name, self.pretrained)
        if min_input_size is not None and not isinstance(min_input_size, _ReadBack):
            warnings.warn(f"model {self.name!r}: ModelSpec(min_input_size=...) is min_img_size since plugin API "
                          "2.0; the old name goes in 3.0", DeprecationWarning, stacklevel=3)
            object.__setattr__(self, "min_img_size", tuple(min_input_size))
        if len(self.input_size) != 3 or len(self.min_img_size) != 2:
            raise PluginError(f"model {self.name!r}: input_size must be (C, H, W) and min_img_size (H, W)")

    @property
    def in_chans(self) -> int:
        """Channels of the native input."""
        return self.input_size[0]

    @property
    def img_size(self) -> tuple[int, int]:
        """Native (height, width)."""
        return self.input_size[1], self.input_size[2]


class _ReadBack(tuple):
    """``spec.min_input_size`` as read: ``dataclasses.replace`` passes it back to ``__init__``, which must
    not take it for a value a 1.0 plugin gave."""


# Plugin API 1.0 read the minimum as ``spec.min_input_size``; kept readable until 3.0.
def _min_input_size(self: ModelSpec) -> tuple[int, int]:
    """Deprecated since plugin API 2.0: ``min_img_size``."""
    return _ReadBack(self.min_img_size)


ModelSpec.min_input_size = property(_min_input_size)  # type: ignore[assignment,misc]


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset as its publisher ships it.

    Attributes:
        name: file name, also its name inside a data directory or mirror.
        url: official download URL.
        md5: published checksum of the file as downloaded ("" if none is published).
        sha256: checksum of the file as downloaded ("" if unknown).
        content_sha256: checksum of the decompressed content, which also verifies
            copies that a distribution recompressed (Debian's Fashion-MNIST).
    """

    name: str
    url: str
    md5: str = ""
    sha256: str = ""
    content_sha256: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's files come from and how to read them into arrays.

    Attributes:
        name: unique, lower case (``fashion-mnist``).
        summary: one line for ``zoo data list``.
        files: the official files, with checksums.
        loader: ``"package.module:function"`` that turns a directory holding
            ``files`` into ``{"train": (images, labels), "test": (images, labels)}``
            with uint8 NHWC images and integer labels.
        classes: class names, index = label.
        shape: native image shape ``(height, width, channels)``.
        mean: per-channel mean of the training images, in [0, 1] units.
        std: per-channel standard deviation, in [0, 1] units.
        mirrors: base URLs that serve the same file names.
        system_dirs: directories where an OS package installs the files.
        augment: default training augmentation, a name in ``zoo.augment.NAMED_AUGMENTATIONS``
            (``zoo train --help`` lists them).
        homepage: where people read about it.
        license: the dataset's licence.
    """

    name: str
    files: tuple[DataFile, ...]
    loader: str
    classes: tuple[str, ...]
    shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    summary: str = ""
    mirrors: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    augment: str = "none"
    homepage: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        _check_name("dataset", self.name)
        _check_reference("dataset", self.name, self.loader)
        channels = self.shape[2]
        if len(self.mean) != channels or len(self.std) != channels:
            raise PluginError(f"dataset {self.name!r}: mean and std need one value per channel")

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)


@dataclass(frozen=True)
class BackendSpec:
    """A framework backend, registered lazily like models.

    Attributes:
        name: what ``ModelSpec.backend`` refers to (``torch``).
        factory: ``"package.module:callable"`` returning an object that
            implements :class:`zoo.backend.Backend`.
        framework: the framework it drives, shown to users (``PyTorch``).
        summary: one line for ``zoo plugins``.
    """

    name: str
    factory: str
    framework: str = ""
    summary: str = ""

    def __post_init__(self) -> None:
        _check_name("backend", self.name)
        _check_reference("backend", self.name, self.factory)
