"""Training settings shared by every backend, checked before any work starts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from zoo.api.augment import NAMED_AUGMENTATIONS
from zoo.api.errors import UsageError

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULERS = ("none", "cosine", "step")
PRECISIONS = ("fp32", "bf16")
# torch.compile's modes; "reduce-overhead" and "max-autotune" capture CUDA graphs on a GPU. Keras compiles with XLA.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
AUGMENTATIONS = tuple(NAMED_AUGMENTATIONS)
# Bounds on what one may ask for, so that a typo is one line instead of a 40 GB allocation.
MAX_IMAGE_SIDE = 4096  # pixels per side of a model's input (and of a checkpoint's images)
MAX_CLASSES = 100_000
MAX_SEED = 2**32 - 1  # what every framework's seeding accepts (numpy's legacy seed, Keras)
# Settings that change where or how fast a run trains, not what it learns: a resume may change them.
RUNTIME_SETTINGS = ("device", "compile", "compile_mode", "channels_last", "save_every")


@dataclass(frozen=True)
class TrainConfig:
    """One training recipe plus how to run it.

    Defaults are the tutorials' recipe: Adam, learning rate 1e-3, batch 128,
    cross-entropy (``label_smoothing`` > 0 trains on targets ``(1 - e) * one_hot + e / classes``, as
    PyTorch's ``cross_entropy`` does), 10 epochs, 10% of train held out for validation. Images
    reach the model at their own size (or the model's native size when they are below its
    minimum) unless ``image_size`` names a square size to resize them to. Without it,
    ``min_image_size`` resizes smaller images up, keeping their aspect, until the shorter side
    has that many pixels; larger images keep their size. ``pretrained`` starts from the model's
    pretrained weights (``ModelSpec.pretrained``) read from a local copy, ``weights`` (a file) when
    given, which implies ``pretrained``. A model's ``ModelSpec.recipe``
    overrides these defaults; the user's options override both.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    scheduler: str = "none"
    val_split: float = 0.1
    seed: int = 0
    augment: str | None = None
    image_size: int | None = None
    min_image_size: int | None = None
    pretrained: bool = False
    weights: str | None = None
    limit: int | None = None
    limit_test: int | None = None
    device: str = "auto"
    precision: str = "fp32"
    compile: bool | None = None  # None: the backend's fastest safe choice (zoo-torch: CUDA graphs on a long GPU run)
    compile_mode: str = "default"
    channels_last: bool | None = None
    deterministic: bool = False
    save_every: int = 1

    @classmethod
    def build(cls, *layers: Mapping[str, Any] | None) -> TrainConfig:
        """Defaults overridden by each mapping in turn; ``None`` values are skipped."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for layer in layers:
            for key, value in (layer or {}).items():
                if key not in known:
                    raise UsageError(f"unknown training setting {key!r}; known: {', '.join(sorted(known))}")
                if value is not None:
                    values[key] = value
        return cls(**values).validated()

    def with_changes(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied and validated."""
        return replace(self, **changes).validated()

    def validated(self) -> TrainConfig:
        """This config, or a :class:`UsageError` naming the first bad value and the fix."""
        positive_int("epochs", self.epochs)
        positive_int("batch_size", self.batch_size)
        if not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) or self.lr <= 0:
            raise UsageError(f"`lr` must be a positive number, got {self.lr!r}")
        if not math.isfinite(self.weight_decay) or self.weight_decay < 0:
            raise UsageError(f"`weight_decay` must be zero or positive, got {self.weight_decay!r}")
        if not isinstance(self.label_smoothing, (int, float)) or not 0 <= self.label_smoothing < 1:
            raise UsageError(f"`label_smoothing` must be in [0, 1) (0.1 is usual), got {self.label_smoothing!r}")
        if not 0 <= self.val_split < 1:
            raise UsageError(f"`val_split` must be in [0, 1), got {self.val_split!r}")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise UsageError(f"`seed` must be a whole number from 0 to {MAX_SEED}, got {self.seed!r}")
        for name, value in (("image_size", self.image_size), ("min_image_size", self.min_image_size),
                            ("limit", self.limit), ("limit_test", self.limit_test)):
            if value is not None:
                positive_int(name, value)
        for name, value in (("image_size", self.image_size), ("min_image_size", self.min_image_size)):
            if value is not None and value > MAX_IMAGE_SIDE:
                raise UsageError(f"`{name}` must be at most {MAX_IMAGE_SIDE} pixels, got {value}")
        if not isinstance(self.save_every, int) or self.save_every < 0:
            raise UsageError(f"`save_every` must be a whole number of epochs (0: at the end), got {self.save_every!r}")
        if self.weights is not None:
            if not isinstance(self.weights, str) or not self.weights.strip():
                raise UsageError(f"`weights` must be the path of a weights file, got {self.weights!r}")
            if not self.pretrained:
                return replace(self, pretrained=True).validated()
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("scheduler", self.scheduler, SCHEDULERS)
        _choice("precision", self.precision, PRECISIONS)
        _choice("compile_mode", self.compile_mode, COMPILE_MODES)
        if self.augment is not None:
            _choice("augment", self.augment, AUGMENTATIONS)
        device = self.device.lower()
        if not (device in {"auto", "cpu", "cuda"} or device.startswith("cuda:")):
            raise UsageError(f"`device` must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        return self

    def recipe(self) -> dict[str, Any]:
        """The settings that define what is learnt (not where or how fast)."""
        data = asdict(self)
        for key in RUNTIME_SETTINGS:
            data.pop(key)
        # Left out when unset, so that runs recorded before these settings existed keep their identity.
        for key, unset in (("pretrained", False), ("weights", None)):
            if data[key] == unset:
                data.pop(key)
        return data

    def to_dict(self) -> dict[str, Any]:
        """All settings as plain data."""
        return asdict(self)


def positive_int(name: str, value: object) -> None:
    """Refuse (``UsageError`` naming setting ``name``) anything but a whole number of at least 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"`{name}` must be a whole number of at least 1, got {value!r}")


def check_num_classes(value: int) -> None:
    """Refuse a ``num_classes`` outside 1 .. :data:`MAX_CLASSES` (a head of 10 million classes is 160 GB)."""
    if not isinstance(value, int) or not 1 <= value <= MAX_CLASSES:
        raise UsageError(f"`num_classes` must be from 1 to {MAX_CLASSES:,}, got {value!r}")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise UsageError(f"`{name}` must be one of {', '.join(allowed)}, got {value!r}")
