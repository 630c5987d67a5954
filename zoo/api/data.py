"""The data that crosses the seam: uint8 NHWC images and int64 labels, framework-free."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Split:
    """One split of a dataset: ``images`` uint8 (N, H, W, C), ``labels`` int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def head(self, count: int | None) -> Split:
        """The first ``count`` examples (all when ``count`` is None)."""
        if count is None or count >= len(self):
            return self
        return Split(self.images[:count], self.labels[:count])

    def subset(self, indices: np.ndarray) -> Split:
        """The examples at ``indices``, copied into memory."""
        return Split(self.images[indices], self.labels[indices])
