"""Local datasets as arrays: scan the source, decode what is not cached, keep it in zoo's array cache.

A source is a folder of class folders, a CSV of ``path,label`` rows (both
indexed by :mod:`zoo.data.folders`) or an ``.npz`` holding ``x_train``,
``y_train``, ``x_test``, ``y_test`` (the layout ``keras.datasets`` returns).

Cache layout, beside the built-in datasets' entries::

    <cache>/datasets/local/<name>-<hash of source path and options>/
        arrays-<fingerprint>/   train_images.npy ... meta.json index.json

The fingerprint hashes every file's path, size and mtime (and labels, splits
and options), so a later load costs a scan of the folder plus memory maps.
With ``check="dirs"`` (:mod:`zoo.data.folder_dirs`) a later load reads only
the directories and maps the arrays last checked in full under the same
directories (``dirs.json`` beside the entries).
When the folder changed, :mod:`zoo.data.local_images` builds the new entry
from the previous one (only new or changed files are decoded);
:mod:`zoo.data.local_npz` reads an ``.npz``. Entries are written in a temporary directory renamed into place when
complete (:func:`zoo.data.cache.building`); a bad file (without
``skip_bad``), an error or Ctrl-C leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.api.data import Split
from zoo.api.errors import UsageError, ZooError
from zoo.api.specs import DatasetSpec
from zoo.data import cache
from zoo.data.arrays import Dataset
from zoo.data.decode import decode_files
from zoo.data.folder_dirs import directory_key, forget, remember, remembered
from zoo.data.folders import scan_source
from zoo.data.local_decoded import Decoded
from zoo.data.local_images import build_images
from zoo.data.local_npz import build_npz, npz_fingerprint, read_npz
from zoo.data.local_spec import LOCAL_LOADER, LocalDatasetSpec
from zoo.data.locate import cache_root
from zoo.data.pixels import Target
from zoo.data.source_index import BadFile, SourceIndex
from zoo.plugins.registry import Registered


def cache_dir_for(spec: LocalDatasetSpec) -> Path:
    """The cache directory of one source read with one set of options."""
    payload = json.dumps({"source": spec.source, "options": spec.options.data_key()}, sort_keys=True)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:12]
    stem = re.sub(r"[^a-z0-9._-]+", "-", Path(spec.source).name.lower()).strip("-.")[:40] or "data"
    return cache_root() / "local" / f"{stem}-{digest}"


def is_cached(spec: LocalDatasetSpec) -> bool:
    """Whether arrays of this source exist (possibly older than the files), without scanning it."""
    directory = cache_dir_for(spec)
    return any((entry / cache.META).is_file() for entry in directory.glob("arrays-*"))


def _spec_from(spec: LocalDatasetSpec, decoded: Decoded, key: str) -> LocalDatasetSpec:
    h, w, mode = decoded.target
    channels = 1 if mode == "grey" else 3
    options = spec.options
    mean, std = (options.mean, options.std) if options.mean is not None else (decoded.mean, decoded.std)
    if len(mean) != channels or len(std) != channels:  # type: ignore[arg-type]
        raise UsageError(f"{spec.name}: `mean`/`std` give {len(mean)} value(s) but the images have "  # type: ignore[arg-type]
                         f"{channels} channel(s)")
    return dataclasses.replace(
        spec, classes=decoded.classes, shape=(h, w, channels), mean=tuple(mean), std=tuple(std),  # type: ignore[arg-type]
        summary=spec.summary or f"{decoded.kind} at {spec.source}", content_key=key, loader=LOCAL_LOADER,
    )


# -- resolving --------------------------------------------------------------------------------


def _check_source(spec: LocalDatasetSpec) -> None:
    if not os.path.exists(spec.source):
        hint = f"; restore it, or 'zoo data remove {spec.name}'" if spec.registered else ""
        raise UsageError(f"dataset {spec.name!r}: {spec.source} does not exist{hint}")
    if spec.options.check == "dirs" and not os.path.isdir(spec.source):
        raise UsageError(f"dataset {spec.name!r}: `check` dirs applies to a folder, and {spec.source} is a file; "
                         "leave `check` at files")


def _quick_key(spec: LocalDatasetSpec) -> str | None:
    """The directories' key under ``check="dirs"``; None under the full check."""
    _check_source(spec)
    return directory_key(spec.source) if spec.options.check == "dirs" else None


def _fingerprint(spec: LocalDatasetSpec) -> tuple[str, SourceIndex | None]:
    _check_source(spec)
    if spec.source.lower().endswith(".npz"):
        return npz_fingerprint(spec), None
    index = scan_source(Path(spec.source), spec.options)
    return index.fingerprint(spec.options), index


def _open(entry: Path) -> tuple[dict[str, Split], Decoded] | None:
    splits = cache.load_arrays(entry)
    if splits is None:
        return None
    try:
        return splits, Decoded.from_dict(cache.read_meta(entry)["local"])  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        shutil.rmtree(entry, ignore_errors=True)
        return None


def _announce(spec: LocalDatasetSpec, decoded: Decoded, entry: Path) -> None:
    h, w, mode = decoded.target
    done = f"decoded {decoded.decoded:,} image(s)"
    if decoded.reused:
        done += f", reused {decoded.reused:,} unchanged"
    skipped = f"; skipped {len(decoded.skipped)} bad file(s) (zoo data info lists them)" if decoded.skipped else ""
    print(f"zoo: {spec.name}: {done} ({h}x{w} {mode}) in {decoded.seconds:.1f} s, cached in {entry}{skipped}",
          file=sys.stderr, flush=True)


def resolve(spec: LocalDatasetSpec, *, progress: bool = True) -> tuple[LocalDatasetSpec, Dataset, Path]:
    """Scan the source; map the cached arrays when they match the files, else decode them (in
    parallel, with a progress bar when ``progress``) into a new cache entry.

    Returns the spec as the files are now (classes, shape, mean/std), the
    dataset, and the cache entry. A spec returned by this function (its
    ``content_key`` set) maps the same arrays again without a scan, as long
    as they are cached: it describes them; look the name up again for the
    files as they are now.
    """
    if spec.content_key:  # a spec this process resolved pins the arrays it describes
        pinned = cache_dir_for(spec) / f"arrays-{spec.content_key}"
        opened = _open(pinned)
        if opened is not None:
            return spec, Dataset(spec, opened[0]["train"], opened[0]["test"], opened[0].get("val")), pinned
    quick = _quick_key(spec)
    known = remembered(cache_dir_for(spec), quick) if quick else None
    opened = _open(cache_dir_for(spec) / f"arrays-{known}") if known else None
    if opened is not None:
        return _resolved(spec, opened, known, cache_dir_for(spec) / f"arrays-{known}")  # type: ignore[arg-type]
    key, index = _fingerprint(spec)
    entry = cache_dir_for(spec) / f"arrays-{key}"
    opened = _open(entry)
    if opened is None:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZooError(f"cannot create the cache directory {entry.parent} ({exc.strerror or exc}); "
                           "set ZOO_CACHE_DIR to a writable directory") from None
        decoded = build_npz(spec, entry) if index is None else build_images(spec, index, entry, progress)
        if progress:
            _announce(spec, decoded, entry)
        cache.prune_stale_entries(entry.parent, entry)
        opened = _open(entry)
        if opened is None:
            raise ZooError(f"the arrays just written to {entry} cannot be read back; delete {entry.parent} and retry")
    if quick:
        remember(entry.parent, quick, key)
    return _resolved(spec, opened, key, entry)


def _resolved(spec: LocalDatasetSpec, opened: tuple[dict[str, Split], Decoded], key: str,
              entry: Path) -> tuple[LocalDatasetSpec, Dataset, Path]:
    splits, decoded = opened
    fresh = _spec_from(spec, decoded, key)
    if spec.registered and (fresh.classes, fresh.shape, fresh.mean, fresh.std) != (
        spec.classes, spec.shape, spec.mean, spec.std
    ):
        from zoo.data.local_registry import update_record

        update_record(fresh)
    return fresh, Dataset(fresh, splits["train"], splits["test"], splits.get("val")), entry


def load_local(spec: LocalDatasetSpec, *, progress: bool = True) -> Dataset:
    """The local dataset's splits as read-only memory maps (decoded first when needed)."""
    return resolve(spec, progress=progress)[1]


def load_local_arrays(directory: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A ``DatasetSpec.loader``: the folder, CSV or ``.npz`` at ``directory`` with the default options."""
    from zoo.data.local_registry import path_spec

    data = load_local(path_spec(str(directory)), progress=False)
    return {"train": (data.train.images, data.train.labels), "test": (data.test.images, data.test.labels)}


@dataclass(frozen=True)
class LocalCheck:
    """What ``zoo data verify`` found: files decoded, the bad ones, and whether the cache is current.

    ``unseen``: under ``check="dirs"``, loads were mapping arrays older than the
    files (a file rewritten in place); the quick key is dropped, so the next
    load checks every file and decodes what changed.
    """

    checked: int
    bad: tuple[BadFile, ...]
    cache: str
    unseen: bool = False


def verify_local(spec: LocalDatasetSpec, *, progress: bool = True) -> LocalCheck:
    """Decode every file of the source again (no arrays are written) and compare with the cache.

    Under ``check="dirs"``, arrays older than the files (a file rewritten in
    place) are reported, and the quick key dropped so the next load decodes
    what changed.
    """
    quick = _quick_key(spec)
    key, index = _fingerprint(spec)
    entry = cache_dir_for(spec) / f"arrays-{key}"
    state = "current" if (entry / cache.META).is_file() else ("stale" if is_cached(spec) else "none")
    unseen = False
    if quick and remembered(entry.parent, quick) not in (None, key):
        unseen = forget(entry.parent)
    if index is None:
        present, _ = read_npz(spec)
        return LocalCheck(sum(len(labels) for _, labels in present.values()), (), state)
    samples = [s for split in index.arrange(spec.options)[0].values() for s in split]
    label = f"verifying {Path(spec.source).name}" if progress else None
    result = decode_files([s.path for s in samples], Target(1, 1, "grey"), label=label)
    bad = [*index.bad, *(BadFile(samples[p].key, reason) for p, reason in sorted(result.bad.items()))]
    return LocalCheck(len(samples) + len(index.bad), tuple(bad), state, unseen)


def refresh(entry: Registered[DatasetSpec]) -> Registered[DatasetSpec]:
    """``entry`` itself, or for a local dataset the entry as its files are now (scanned, decoded if changed)."""
    if not isinstance(entry.spec, LocalDatasetSpec):
        return entry
    return Registered(resolve(entry.spec)[0], entry.plugin)
