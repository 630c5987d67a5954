"""Training-time augmentations, by name: the one table that option checking and every backend share."""

from __future__ import annotations

from dataclasses import dataclass, replace

from zoo.api.errors import UsageError


@dataclass(frozen=True)
class Augmentation:
    """Training-time augmentation, applied per batch on the device, in this order.

    Sizes are in the dataset's pixels; :meth:`scaled` converts them when the model sees the
    images resized.

    Attributes:
        crop_padding: pad by this many pixels (zeros, after normalisation) and take a random crop of the
            original size.
        horizontal_flip: flip with probability 0.5.
        cutout: zero (the dataset's mean, after normalisation) a square this many pixels a side, its centre
            drawn anywhere in the image, so it may hang over an edge (DeVries and Taylor, 2017, "Improved
            Regularization of Convolutional Neural Networks with Cutout").
    """

    crop_padding: int = 0
    horizontal_flip: bool = False
    cutout: int = 0

    @property
    def active(self) -> bool:
        """Whether this changes any image at all."""
        return bool(self.crop_padding or self.horizontal_flip or self.cutout)

    def scaled(self, factor: float) -> Augmentation:
        """The same augmentation for images resized by ``factor``: padding and cutout cover the same
        share of the image (``shift`` on 28 px images seen at 56 px pads 4), never less than a pixel."""
        if factor == 1:
            return self

        def scale(pixels: int) -> int:
            return max(1, round(pixels * factor)) if pixels else 0

        return replace(self, crop_padding=scale(self.crop_padding), cutout=scale(self.cutout))

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
    # crop-flip plus a 14-pixel cutout: half the side of a 28-pixel image, as Cutout's paper found best on CIFAR-10
    "crop-flip-cutout": Augmentation(4, True, cutout=14),
}
