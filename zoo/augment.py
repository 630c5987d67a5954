"""Training-time augmentations, by name: the one table that option checking and every backend share."""

from __future__ import annotations

from dataclasses import dataclass

from zoo.errors import UsageError


@dataclass(frozen=True)
class Augmentation:
    """Training-time augmentation, applied per batch on the device.

    ``crop_padding``: pad by this many pixels (zeros, after normalisation)
    and take a random crop of the original size. ``horizontal_flip``: flip
    with probability 0.5.
    """

    crop_padding: int = 0
    horizontal_flip: bool = False

    @classmethod
    def named(cls, name: str) -> Augmentation:
        """The augmentation called ``name`` in :data:`NAMED_AUGMENTATIONS`; an unknown name is a UsageError."""
        try:
            return NAMED_AUGMENTATIONS[name]
        except KeyError:
            raise UsageError(
                f"unknown augmentation {name!r}; choose one of {', '.join(NAMED_AUGMENTATIONS)}"
            ) from None


NAMED_AUGMENTATIONS: dict[str, Augmentation] = {
    "none": Augmentation(),
    "crop-flip": Augmentation(4, True),  # pad 4, random crop, random mirror: natural images
    "shift": Augmentation(2, False),  # pad 2, random crop, never mirrored: digits, text
}
