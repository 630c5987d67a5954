"""The dataset layer: registered datasets found, fetched, verified, parsed and cached as numpy.

Public API (imported lazily, so ``import zoo.data.catalog`` while listing
plugins stays cheap)::

    load_dataset(name, *, data_dir=None, progress=True, download=True) -> Dataset
    download_dataset(name, *, data_dir=None, progress=True) -> Located
    verify_dataset(name, *, data_dir=None) -> list[FileStatus]
    dataset_info(name, *, data_dir=None) -> DatasetInfo
    get_dataset_spec(name) -> DatasetSpec
    list_datasets() -> list[str]
    render_samples(dataset, output, *, split="train", count=40, seed=0) -> Path

``Dataset``, ``Split`` and ``split_validation`` live in :mod:`zoo.data.arrays`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo.api.data import Split
    from zoo.data.arrays import Dataset, split_validation
    from zoo.data.datasets import (
        DatasetInfo,
        dataset_info,
        download_dataset,
        get_dataset_spec,
        list_datasets,
        load_dataset,
        verify_dataset,
    )
    from zoo.data.locate import FileStatus, Located, cache_root
    from zoo.data.render import render_samples

_EXPORTS = {
    "Dataset": "zoo.data.arrays",
    "Split": "zoo.data.arrays",
    "split_validation": "zoo.data.arrays",
    "DatasetInfo": "zoo.data.datasets",
    "dataset_info": "zoo.data.datasets",
    "download_dataset": "zoo.data.datasets",
    "get_dataset_spec": "zoo.data.datasets",
    "list_datasets": "zoo.data.datasets",
    "load_dataset": "zoo.data.datasets",
    "verify_dataset": "zoo.data.datasets",
    "FileStatus": "zoo.data.locate",
    "Located": "zoo.data.locate",
    "cache_root": "zoo.data.locate",
    "render_samples": "zoo.data.render",
}

__all__ = [
    "Dataset",
    "DatasetInfo",
    "FileStatus",
    "Located",
    "Split",
    "cache_root",
    "dataset_info",
    "download_dataset",
    "get_dataset_spec",
    "list_datasets",
    "load_dataset",
    "render_samples",
    "split_validation",
    "verify_dataset",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
