"""Operations on registered datasets: load, download, verify, describe.

``load_dataset`` first looks for parsed arrays in the cache (a memory map,
no source file touched); otherwise it finds or downloads the verified
files (see :mod:`zoo.data.locate`), runs the spec's loader, checks what it
returned against the spec, and caches the arrays for next time.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.api.data import Split
from zoo.api.errors import PluginError, UsageError, ZooError
from zoo.api.specs import DatasetSpec
from zoo.data import cache
from zoo.data.arrays import Dataset
from zoo.data.local_spec import LocalDatasetSpec
from zoo.data.locate import (
    FileStatus,
    Located,
    Place,
    check_place,
    ensure_local,
    file_digests,
    find_local,
    refused_data_dir_copies,
    search_places,
    warn_refused,
)
from zoo.plugins.registry import Registered

DatasetRef = str | DatasetSpec


def get_dataset_spec(name: DatasetRef) -> DatasetSpec:
    """The registered :class:`DatasetSpec` called ``name`` (a spec is returned as is).

    A local dataset comes as registered (its files not read yet): :func:`load_dataset` reads them.
    """
    if isinstance(name, DatasetSpec):
        return name
    return find_dataset(name, refresh=False).spec


def find_dataset(name: str, *, refresh: bool = True) -> Registered[DatasetSpec]:
    """The dataset called ``name``, or the folder (or CSV, or ``.npz``) at the path ``name``; else a
    usage error suggesting close names.

    A local dataset (``zoo data add``, or a path) is scanned on the way and decoded again if its
    files changed, so its spec describes the files as they are now
    (:func:`zoo.data.local.refresh`); with ``refresh`` False it is returned as registered,
    not yet read.
    """
    from zoo.data import local_registry
    from zoo.plugins.registry import get_registry

    registry = get_registry()
    try:
        found = registry.dataset(name)
    except UsageError:
        if not local_registry.is_path_reference(name):
            raise
        found = Registered(local_registry.path_spec(name), local_registry.PATH_PLUGIN)
    if not refresh:
        return found
    from zoo.data.local import refresh as rescan

    return rescan(found)


def dataset_identity(spec: DatasetSpec) -> str:
    """What a stored result on ``spec`` depends on: its name, plus the files' fingerprint for a local dataset."""
    return spec.identity if isinstance(spec, LocalDatasetSpec) else spec.name


def arrays_cached(spec: DatasetSpec) -> bool:
    """Whether parsed arrays of ``spec`` are in the cache (without reading any source file)."""
    if isinstance(spec, LocalDatasetSpec):
        from zoo.data.local import is_cached

        return is_cached(spec)
    key = cache.published_key(spec)
    return key is not None and (cache.arrays_dir(spec, key) / cache.META).is_file()


def list_datasets() -> list[str]:
    """Names of every registered dataset, sorted."""
    from zoo.plugins.registry import get_registry, natural_key

    return sorted(get_registry().datasets, key=natural_key)


def _identity_key(spec: DatasetSpec, located: Located) -> str:
    identities = []
    for file in spec.files:
        ident = cache.file_identity(file)
        if ident is None:  # no published checksum: the file's own bytes identify it
            ident = "sha256:" + file_digests(located.place.path / file.name, ["sha256"])["sha256"]
        identities.append(ident)
    return cache.arrays_key(spec, identities)


def check_arrays(spec: DatasetSpec, arrays: Any) -> dict[str, Split]:
    """Validate a loader's result against the spec and make it canonical (uint8 NHWC, int64)."""
    where = f"dataset {spec.name!r} loader {spec.loader}"
    if not isinstance(arrays, Mapping) or not all(s in arrays for s in cache.SPLITS):
        raise PluginError(f"{where} must return a mapping with 'train' and 'test' entries")
    splits: dict[str, Split] = {}
    for name in cache.SPLITS:
        try:
            images, labels = arrays[name]
        except (TypeError, ValueError):
            raise PluginError(f"{where}: {name!r} must be an (images, labels) pair") from None
        images, labels = np.asarray(images), np.asarray(labels)
        if images.dtype != np.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != spec.shape:
            raise PluginError(
                f"{where}: {name} images are {images.dtype} {images.shape}, expected uint8 (N, "
                f"{', '.join(map(str, spec.shape))})"
            )
        if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (images.shape[0],):
            raise PluginError(f"{where}: {name} labels must be {images.shape[0]} integers")
        if labels.size and (labels.min() < 0 or labels.max() >= spec.num_classes):
            raise ZooError(
                f"dataset {spec.name!r}: {name} labels range {labels.min()}..{labels.max()}, "
                f"outside 0..{spec.num_classes - 1}; the files are not what the spec describes"
            )
        splits[name] = Split(np.ascontiguousarray(images), labels.astype(np.int64))
    return splits


def _parse(spec: DatasetSpec, located: Located) -> dict[str, Split]:
    from zoo.api.loading import load_object

    loader = load_object(spec.loader)
    try:
        arrays = loader(located.directory)
    except ZooError:
        raise
    except Exception as exc:  # a plugin's loader may raise anything; report it as one line
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise PluginError(
            f"dataset {spec.name!r} loader {spec.loader} failed on {located.directory}: "
            f"{type(exc).__name__}: {message}"
        ) from exc
    return check_arrays(spec, arrays)


def _store(spec: DatasetSpec, key: str, splits: dict[str, Split], located: Located) -> dict[str, Split]:
    target = cache.arrays_dir(spec, key)
    sources = {f.name: str(located.place.path / f.name) for f in spec.files}
    try:
        cache.save_arrays(target, splits, sources=sources)
    except OSError as exc:
        print(f"zoo: warning: cannot cache {spec.name} arrays in {target}: {exc}", file=sys.stderr)
        return splits
    cache.prune_stale(spec, target)
    return cache.load_arrays(target) or splits


def _load(spec: DatasetSpec, key: str | None, located: Located) -> Dataset:
    if key is None:
        key = _identity_key(spec, located)
        cached = cache.load_arrays(cache.arrays_dir(spec, key))
        if cached is not None:
            return Dataset(spec, cached["train"], cached["test"])
    splits = _store(spec, key, _parse(spec, located), located)
    return Dataset(spec, splits["train"], splits["test"])


def _cached(spec: DatasetSpec, key: str | None) -> Dataset | None:
    if key is None:
        return None
    cached = cache.load_arrays(cache.arrays_dir(spec, key))
    return None if cached is None else Dataset(spec, cached["train"], cached["test"])


def load_dataset(
    name: DatasetRef,
    *,
    data_dir: str | Path | None = None,
    progress: bool = True,
    download: bool = True,
) -> Dataset:
    """The dataset's official train and test splits as uint8 NHWC images and int64 labels.

    Args:
        name: a registered dataset name (``"cifar10"``) or a :class:`DatasetSpec`.
        data_dir: a directory holding the files (or ``<data_dir>/<name>/``); searched first.
        progress: show download progress and messages on stderr.
        download: fetch missing files; when False a missing dataset is an error.

    After the first parse the arrays come from the cache as read-only memory maps;
    copy them (``np.array(split.images)``) before writing into them.
    """
    spec = get_dataset_spec(name)
    if isinstance(spec, LocalDatasetSpec):
        from zoo.data.local import load_local

        return load_local(spec, progress=progress)
    key = cache.published_key(spec)
    found = _cached(spec, key)
    if found is not None:
        if data_dir is not None and spec.files:  # asked for a copy: say so when it is not the one used
            warn_refused(refused_data_dir_copies(spec, data_dir), f"the cached arrays in {cache.arrays_dir(spec, key)}")
        return found
    return _load(spec, key, ensure_local(spec, data_dir, download=download, progress=progress))


def download_dataset(
    name: DatasetRef, *, data_dir: str | Path | None = None, progress: bool = True
) -> Located:
    """Make sure verified files are local (downloading if needed) and their arrays cached.

    A local dataset has nothing to download: its files are decoded into the cache if needed.
    """
    spec = get_dataset_spec(name)
    if isinstance(spec, LocalDatasetSpec):
        from zoo.data.local import load_local

        load_local(spec, progress=progress)
        return Located(spec, Place("local", Path(spec.source)))
    located = ensure_local(spec, data_dir, download=True, progress=progress)
    key = cache.published_key(spec)
    if _cached(spec, key) is None:
        _load(spec, key, located)
    return located


def verify_dataset(name: DatasetRef, *, data_dir: str | Path | None = None) -> list[FileStatus]:
    """Every file of the dataset in every place searched, checksums recomputed."""
    spec = get_dataset_spec(name)
    statuses: list[FileStatus] = []
    for place in search_places(spec, data_dir):
        if place.path.is_dir():
            statuses.extend(check_place(spec, place))
    return statuses


@dataclass
class DatasetInfo:
    """What ``zoo data info`` shows: the spec, where the files are, and split statistics."""

    spec: DatasetSpec
    places: list[str]
    location: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    arrays: str | None = None
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    local: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        spec = self.spec
        return {
            "name": spec.name,
            "summary": spec.summary,
            "classes": list(spec.classes),
            "num_classes": spec.num_classes,
            "shape": list(spec.shape),
            "mean": list(spec.mean),
            "std": list(spec.std),
            "augment": spec.augment,
            "homepage": spec.homepage,
            "license": spec.license,
            "searched": self.places,
            "location": self.location,
            "files": self.files,
            "arrays": self.arrays,
            "splits": self.splits,
            **({"local": self.local} if self.local is not None else {}),
        }


def _split_stats(split: Split, num_classes: int) -> dict[str, Any]:
    counts = np.bincount(np.asarray(split.labels), minlength=num_classes)
    return {"count": len(split), "shape": list(split.images.shape), "per_class": counts.tolist()}


def dataset_info(name: DatasetRef, *, data_dir: str | Path | None = None) -> DatasetInfo:
    """Describe a dataset without downloading: files found (verified), array cache, per-class counts."""
    spec = get_dataset_spec(name)
    if isinstance(spec, LocalDatasetSpec):
        return _local_info(spec)
    info = DatasetInfo(spec, [str(p.path) for p in search_places(spec, data_dir)])
    located = find_local(spec, data_dir)
    if located is not None:
        info.location = f"{located.place.path} ({located.place.kind})"
        info.files = {n: str(p) for n, p in located.paths().items()}
    key = cache.published_key(spec)
    if key is None and located is not None:
        key = _identity_key(spec, located)
    if key is not None and cache.load_arrays(cache.arrays_dir(spec, key)) is not None:
        info.arrays = str(cache.arrays_dir(spec, key))
    if located is not None or info.arrays is not None:
        data = load_dataset(spec, data_dir=data_dir, progress=False, download=False)
        if info.arrays is None and key is not None and cache.arrays_dir(spec, key).is_dir():
            info.arrays = str(cache.arrays_dir(spec, key))
        info.splits = {
            "train": _split_stats(data.train, spec.num_classes),
            "test": _split_stats(data.test, spec.num_classes),
        }
    return info


def _local_info(spec: LocalDatasetSpec) -> DatasetInfo:
    from zoo.data.local import resolve

    fresh, data, entry = resolve(spec)  # decoding a new folder is long work: show it on stderr
    decoded = cache.read_meta(entry).get("local", {})
    info = DatasetInfo(fresh, [fresh.source], location=f"{fresh.source} (local)", arrays=str(entry))
    splits = {"train": data.train, "test": data.test, **({"val": data.val} if data.val is not None else {})}
    info.splits = {split: _split_stats(s, fresh.num_classes) for split, s in splits.items()}
    info.local = {
        "source": fresh.source,
        "registered": fresh.registered,
        "options": fresh.options.to_dict(),
        "stats": "given (`mean`/`std`)" if fresh.options.mean is not None else "computed from the training split",
        **(decoded if isinstance(decoded, dict) else {}),
    }
    return info
