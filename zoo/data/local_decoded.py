"""What a local dataset's cache entry says about its decode, and the rules it was decoded by.

``meta.json`` of each entry holds a :class:`Decoded`: the classes, the
training split's mean and std, the target size and mode and the rule that
chose each (:func:`choose_target`), what was resized, converted or skipped.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.data.local_spec import LocalOptions
from zoo.data.pixels import Native, Target

_STATS_CHUNK = 1 << 22  # pixel values per chunk when computing mean and std


@dataclass(frozen=True)
class Decoded:
    """What ``meta.json`` says about a local entry: classes, stats, the size/mode policy applied."""

    kind: str
    layout: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    target: tuple[int, int, str]
    size_rule: str
    mode_rule: str
    sizes: dict[str, int]
    modes: dict[str, int]
    resized: int
    converted: int
    skipped: tuple[tuple[str, str], ...]
    ignored: int
    decoded: int
    reused: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        data = dataclasses.asdict(self)
        data["skipped"] = [list(item) for item in self.skipped]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decoded:
        """The inverse of :meth:`to_dict`."""
        values = dict(data)
        values["classes"] = tuple(values["classes"])
        values["mean"], values["std"] = tuple(values["mean"]), tuple(values["std"])
        values["target"] = tuple(values["target"])
        values["skipped"] = tuple(tuple(item) for item in values["skipped"])
        return cls(**values)


def choose_target(options: LocalOptions, natives: Sequence[Native | None]) -> tuple[Target, str, str]:
    """The target size and mode, with the rule that chose each (``--image-size`` or the most common)."""
    seen = [n for n in natives if n is not None]
    if options.image_size is not None:
        (height, width), size_rule = options.image_size, "`image_size`"
    else:
        sizes = Counter((n.height, n.width) for n in seen)
        # The most common size; a tie goes to the larger (less is thrown away).
        height, width = max(sizes, key=lambda s: (sizes[s], s[0] * s[1], s)) if sizes else (1, 1)
        size_rule = "the most common size" if len(sizes) > 1 else "all images"
    if options.mode is not None:
        mode, mode_rule = options.mode, f"--{'grey' if options.mode == 'grey' else 'rgb'}"
    else:
        kinds = Counter(n.kind for n in seen)
        mode = "grey" if kinds["grey"] > kinds["rgb"] else "rgb"  # a tie keeps the colour
        mode_rule = "the majority mode" if len(kinds) > 1 else "all images"
    return Target(height, width, mode), size_rule, mode_rule


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) standard deviation of uint8 NHWC images, in [0, 1] units."""
    channels = images.shape[-1]
    total = np.zeros(channels)
    squares = np.zeros(channels)
    per_image = max(1, int(np.prod(images.shape[1:])))
    step = max(1, _STATS_CHUNK // per_image)
    for start in range(0, images.shape[0], step):
        block = np.asarray(images[start:start + step], dtype=np.float64).reshape(-1, channels)
        total += block.sum(axis=0)
        squares += np.square(block).sum(axis=0)
    count = images.shape[0] * per_image // channels
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return tuple(float(v) for v in mean / 255), tuple(float(v) for v in std / 255)


def tally(natives: Sequence[Native], target: Target) -> dict[str, Any]:
    """The sizes and modes found, and how many images were resized or converted to ``target``."""
    return {
        "sizes": dict(Counter(f"{n.height}x{n.width}" for n in natives).most_common(5)),
        "modes": dict(Counter(n.mode for n in natives).most_common()),
        "resized": sum((n.height, n.width) != (target.height, target.width) for n in natives),
        "converted": sum(n.kind != target.mode or n.mode not in ("L", "RGB") for n in natives),
    }
