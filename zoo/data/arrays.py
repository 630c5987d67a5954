"""The data seam: uint8 NHWC arrays plus integer labels, framework-free."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.specs import DatasetSpec


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


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: its spec, its train and test splits, and its own validation split if it has one
    (a local folder's ``val/``; otherwise training holds out a seeded part of train)."""

    spec: DatasetSpec
    train: Split
    test: Split
    val: Split | None = None


def split_validation(train: Split, fraction: float, seed: int) -> tuple[Split, Split | None]:
    """Hold out a seeded, deterministic ``fraction`` of ``train`` for validation.

    The test split is never involved: it stays for the final, honest score.
    """
    if fraction <= 0:
        return train, None
    count = len(train)
    held_out = round(count * fraction)
    if held_out == 0 or held_out >= count:
        return train, None
    order = np.random.default_rng(seed).permutation(count)
    val_idx = np.sort(order[:held_out])
    train_idx = np.sort(order[held_out:])
    return train.subset(train_idx), train.subset(val_idx)
