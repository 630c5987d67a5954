"""The data seam: uint8 NHWC arrays plus integer labels, framework-free."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.api.data import Split
from zoo.api.specs import DatasetSpec

__all__ = ["Dataset", "Split", "split_validation"]


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
