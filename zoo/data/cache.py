"""The parsed-array cache: canonical uint8 NHWC arrays as ``.npy`` files, memory-mapped.

After a dataset's files are parsed once, its splits are written to
``<cache>/<dataset>/arrays-<key>/`` (one ``.npy`` per array plus
``meta.json``) in a temporary directory renamed into place when complete.
The key hashes the source files' checksums (and the loader and cache
format), so a changed source is parsed again. Later loads map the files
read-only with ``np.load(mmap_mode="r")``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from zoo.api.data import Split
from zoo.api.specs import DataFile, DatasetSpec
from zoo.data.locate import cache_dir

FORMAT_VERSION = 1
SPLITS = ("train", "test")
OPTIONAL_SPLITS = ("val",)
META = "meta.json"
_STALE_PARTIAL_SECONDS = 3600


def file_identity(file: DataFile) -> str | None:
    """The strongest published checksum of ``file`` (``kind:hex``), None when it has none."""
    for kind, value in (("content-sha256", file.content_sha256), ("sha256", file.sha256), ("md5", file.md5)):
        if value:
            return f"{kind}:{value.lower()}"
    return None


def arrays_key(spec: DatasetSpec, identities: Sequence[str]) -> str:
    """Cache key from the sources' checksums, the loader and the cache format."""
    payload = json.dumps(
        {
            "format": FORMAT_VERSION,
            "dataset": spec.name,
            "loader": spec.loader,
            "files": [[f.name, ident] for f, ident in zip(spec.files, identities, strict=True)],
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def published_key(spec: DatasetSpec) -> str | None:
    """The key computed from the spec alone, or None when a file has no published checksum."""
    identities = [file_identity(f) for f in spec.files]
    if any(ident is None for ident in identities):
        return None
    return arrays_key(spec, [i for i in identities if i is not None])


def arrays_dir(spec: DatasetSpec, key: str) -> Path:
    """Where the arrays for ``key`` live."""
    return cache_dir(spec) / f"arrays-{key}"


def load_arrays(directory: Path) -> dict[str, Split] | None:
    """The cached splits, memory-mapped read-only; None when absent or damaged.

    A damaged entry (missing or short file, wrong shape) is removed so that
    the next load parses the sources again.
    """
    meta_path = directory / META
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        splits = {}
        for split in (*SPLITS, *(s for s in OPTIONAL_SPLITS if s in meta["splits"])):
            shapes = meta["splits"][split]
            images = np.load(directory / f"{split}_images.npy", mmap_mode="r")
            labels = np.load(directory / f"{split}_labels.npy", mmap_mode="r")
            if (
                images.dtype != np.uint8
                or labels.dtype != np.int64
                or list(images.shape) != shapes["images"]
                or list(labels.shape) != [shapes["images"][0]]
            ):
                raise ValueError("shape or dtype differs from meta.json")
            splits[split] = Split(images, labels)
        return splits
    except (OSError, ValueError, KeyError, TypeError):
        shutil.rmtree(directory, ignore_errors=True)
        return None


@contextlib.contextmanager
def building(directory: Path) -> Iterator[Path]:
    """A hidden temporary directory beside ``directory``; when the block succeeds its files are
    fsynced and it is renamed onto ``directory``, otherwise it is removed. Readers never see a part.

    Partial directories left by a killed process are swept an hour later.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    sweep_partials(directory.parent)
    partial = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        yield partial
        for entry in partial.iterdir():
            with open(entry, "rb") as handle:
                os.fsync(handle.fileno())
        try:
            os.rename(partial, directory)
        except OSError:
            if not (directory / META).is_file():  # another process finished the same entry first
                raise
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)


def sweep_partials(parent: Path) -> None:
    """Remove partial entries older than an hour (a process killed while writing)."""
    cutoff = time.time() - _STALE_PARTIAL_SECONDS
    for entry in parent.glob(".arrays-*.partial-*"):
        with contextlib.suppress(OSError):
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)


def write_meta(directory: Path, shapes: Mapping[str, Sequence[int]], *, sources: Mapping[str, str] | None = None,
               extra: Mapping[str, object] | None = None) -> None:
    """``meta.json``: the format, the sources, each split's image shape and anything in ``extra``."""
    meta: dict[str, object] = {
        "format": FORMAT_VERSION,
        "sources": dict(sources or {}),
        "splits": {split: {"images": list(shape)} for split, shape in shapes.items()},
        **dict(extra or {}),
    }
    (directory / META).write_text(json.dumps(meta, indent=2))


def read_meta(directory: Path) -> dict[str, object]:
    """The entry's ``meta.json`` (empty when unreadable)."""
    try:
        meta = json.loads((directory / META).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def save_arrays(
    directory: Path, splits: Mapping[str, Split], *, sources: Mapping[str, str] | None = None
) -> Path:
    """Write ``splits`` under ``directory`` atomically (temp directory, then rename)."""
    with building(directory) as partial:
        for split in SPLITS:
            data = splits[split]
            np.save(partial / f"{split}_images.npy", np.ascontiguousarray(data.images, dtype=np.uint8))
            np.save(partial / f"{split}_labels.npy", np.ascontiguousarray(data.labels, dtype=np.int64))
        write_meta(partial, {split: splits[split].images.shape for split in SPLITS}, sources=sources)
    return directory


def prune_stale(spec: DatasetSpec, keep: Path) -> None:
    """Remove this dataset's other array caches (left by older sources or formats)."""
    prune_stale_entries(cache_dir(spec), keep)


def prune_stale_entries(parent: Path, keep: Path) -> None:
    """Remove every ``arrays-*`` entry under ``parent`` but ``keep``."""
    for entry in parent.glob("arrays-*"):
        if entry != keep and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
