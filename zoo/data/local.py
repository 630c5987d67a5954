"""Local datasets as arrays: scan the source, decode what is not cached, keep it in zoo's array cache.

A source is a folder of class folders, a CSV of ``path,label`` rows (both
indexed by :mod:`zoo.data.folders`) or an ``.npz`` holding ``x_train``,
``y_train``, ``x_test``, ``y_test`` (the layout ``keras.datasets`` returns).

Cache layout, beside the built-in datasets' entries::

    <cache>/datasets/local/<name>-<hash of source path and options>/
        arrays-<fingerprint>/   train_images.npy ... meta.json index.json

The fingerprint hashes every file's path, size and mtime (and labels, splits
and options), so a later load costs a scan of the folder plus memory maps.
When the folder changed, the new entry is built from the previous one: files
whose path, size and mtime are unchanged are copied, only new or changed
files are decoded (as long as the target size and mode stay the same).
Entries are written in a temporary directory renamed into place when
complete (:func:`zoo.data.cache.building`); a bad file (without
``skip_bad``), an error or Ctrl-C leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data import cache
from zoo.data.arrays import Dataset, Split
from zoo.data.decode import decode_files
from zoo.data.folders import BadFile, Sample, SourceIndex, check_coverage, scan_source
from zoo.data.local_spec import LOCAL_LOADER, LocalDatasetSpec, LocalOptions
from zoo.data.locate import cache_root
from zoo.data.pixels import Native, Target
from zoo.errors import UsageError, ZooError

INDEX = "index.json"
LOCAL_FORMAT = 1
PROBE_FILES = 256
_STATS_CHUNK = 1 << 22  # pixel values per chunk when computing mean and std


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


# -- the result of a decode, as kept in meta.json --------------------------------------------


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

    def policy(self) -> str:
        """One line for ``zoo data info``: what every image became, and why."""
        h, w, mode = self.target
        parts = [f"{h}x{w} {mode} ({self.size_rule}; {self.mode_rule})"]
        if self.resized:
            parts.append(f"{self.resized:,} resized")
        if self.converted:
            parts.append(f"{self.converted:,} converted to {mode}")
        return ", ".join(parts)


def _spec_from(spec: LocalDatasetSpec, decoded: Decoded, key: str) -> LocalDatasetSpec:
    h, w, mode = decoded.target
    channels = 1 if mode == "grey" else 3
    options = spec.options
    mean, std = (options.mean, options.std) if options.mean is not None else (decoded.mean, decoded.std)
    if len(mean) != channels or len(std) != channels:  # type: ignore[arg-type]
        raise UsageError(f"{spec.name}: --mean/--std give {len(mean)} value(s) but the images have "  # type: ignore[arg-type]
                         f"{channels} channel(s)")
    return dataclasses.replace(
        spec, classes=decoded.classes, shape=(h, w, channels), mean=tuple(mean), std=tuple(std),  # type: ignore[arg-type]
        summary=spec.summary or f"{decoded.kind} at {spec.source}", content_key=key, loader=LOCAL_LOADER,
    )


# -- choosing the size and mode -------------------------------------------------------------


def _size_name(height: int, width: int) -> str:
    return f"{height}x{width}"


def choose_target(options: LocalOptions, natives: Sequence[Native | None]) -> tuple[Target, str, str]:
    """The target size and mode, with the rule that chose each (``--image-size`` or the most common)."""
    seen = [n for n in natives if n is not None]
    if options.image_size is not None:
        (height, width), size_rule = options.image_size, "--image-size"
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


# -- reusing the previous entry ---------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    split: str
    row: int
    size: int
    mtime_ns: int
    native: Native


class _Previous:
    """The newest other entry of the same source: its target and which file sits in which row."""

    def __init__(self, directory: Path, target: Target, files: dict[str, _Known]) -> None:
        self.directory, self.target, self.files = directory, target, files
        self._images: dict[str, np.ndarray] = {}

    @classmethod
    def find(cls, parent: Path, exclude: Path) -> _Previous | None:
        entries = [e for e in parent.glob("arrays-*") if e != exclude and (e / INDEX).is_file()]
        for entry in sorted(entries, key=lambda e: e.stat().st_mtime, reverse=True):
            try:
                data = json.loads((entry / INDEX).read_text())
                h, w, mode = data["target"]
                files = {
                    key: _Known(split, row, size, mtime, Native(nh, nw, nmode))
                    for split, rows in data["files"].items()
                    for row, (key, size, mtime, nh, nw, nmode) in enumerate(rows)
                }
                return cls(entry, Target(int(h), int(w), str(mode)), files)
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return None

    def match(self, sample: Sample, target: Target) -> _Known | None:
        known = self.files.get(sample.key)
        if known is None or target != self.target or (known.size, known.mtime_ns) != (sample.size, sample.mtime_ns):
            return None
        return known

    def images(self, split: str) -> np.ndarray:
        if split not in self._images:
            self._images[split] = np.load(self.directory / f"{split}_images.npy", mmap_mode="r")
        return self._images[split]


# -- building an entry from image files -----------------------------------------------------


class _Retarget(Exception):
    """The files' most common size or mode is not the one guessed from a sample: decode again."""

    def __init__(self, target: Target) -> None:
        super().__init__(target.describe())
        self.target = target


def _probe(samples: Sequence[Sample]) -> list[Native | None]:
    """Headers of an evenly spread sample of the files, for a first guess at the target."""
    step = max(1, len(samples) // PROBE_FILES)
    chosen = [s.path for s in samples[::step]]
    return decode_files(chosen, None, workers=1).natives


def _bad_line(name: str, bad: Sequence[BadFile], hint: str) -> ZooError:
    first = bad[0]
    more = f" (and {len(bad) - 1} more bad file(s))" if len(bad) > 1 else ""
    return ZooError(f"{name}: {first.line()}{more}; fix or delete it, or {hint}")


def _skip_hint(spec: LocalDatasetSpec) -> str:
    if spec.registered:
        return (f"leave bad files out with 'zoo data add {spec.name} PATH --skip-bad' (they are listed; "
                f"'zoo data remove {spec.name}' first if it is registered)")
    return "leave bad files out with 'zoo data add NAME PATH --skip-bad' (they are listed)"


def _build_images(spec: LocalDatasetSpec, index: SourceIndex, entry: Path, progress: bool) -> Decoded:
    options = spec.options
    previous = _Previous.find(entry.parent, entry)
    splits, layout = index.arrange(options)
    everything = [s for samples in splits.values() for s in samples]
    if options.image_size is not None and options.mode is not None:
        target = choose_target(options, [])[0]
    elif previous is not None:
        target = previous.target
    else:
        target = choose_target(options, _probe(everything))[0]
    for _attempt in range(2):
        try:
            return _build_images_at(spec, index, splits, layout, entry, target, previous, progress)
        except _Retarget as again:
            target = again.target
    raise AssertionError("the target settles on the second pass")  # pragma: no cover


def _build_images_at(spec: LocalDatasetSpec, index: SourceIndex, splits: dict[str, list[Sample]], layout: str,
                     entry: Path, target: Target, previous: _Previous | None, progress: bool) -> Decoded:
    options = spec.options
    started = time.perf_counter()
    if index.bad and not options.skip_bad:
        raise _bad_line(spec.name, index.bad, _skip_hint(spec))
    with cache.building(entry) as partial:
        images = {
            split: np.lib.format.open_memmap(partial / f"{split}_images.npy", mode="w+", dtype=np.uint8,
                                             shape=(len(samples), *target.shape))
            for split, samples in splits.items()
        }
        natives: dict[str, list[Native | None]] = {split: [None] * len(s) for split, s in splits.items()}
        todo: list[tuple[str, int]] = []
        for split, samples in splits.items():
            for row, sample in enumerate(samples):
                known = previous.match(sample, target) if previous is not None else None
                if known is None:
                    todo.append((split, row))
                else:
                    images[split][row] = previous.images(known.split)[known.row]  # type: ignore[union-attr]
                    natives[split][row] = known.native
        reused = sum(len(s) for s in splits.values()) - len(todo)

        def write(start: int, chunk: np.ndarray) -> None:
            for offset, block in enumerate(chunk):
                split, row = todo[start + offset]
                images[split][row] = block

        paths = [splits[split][row].path for split, row in todo]
        label = f"decoding {Path(spec.source).name}" if progress else None
        result = decode_files(paths, target, write, label=label)
        for position, native in enumerate(result.natives):
            split, row = todo[position]
            natives[split][row] = native
        chosen, size_rule, mode_rule = choose_target(options, [n for ns in natives.values() for n in ns])
        if chosen != target:
            raise _Retarget(chosen)
        bad = [BadFile(splits[split][row].key, result.bad[p]) for p, (split, row) in enumerate(todo)
               if p in result.bad]
        bad_rows = {todo[p] for p in result.bad}
        if bad and not options.skip_bad:
            raise _bad_line(spec.name, bad, _skip_hint(spec))
        kept = {split: [r for r in range(len(s)) if (split, r) not in bad_rows] for split, s in splits.items()}
        if bad_rows:
            check_coverage({split: [splits[split][r] for r in rows] for split, rows in kept.items()},
                           index.classes, spec.source)
        shapes = {}
        files: dict[str, list[list[Any]]] = {}
        for split, samples in splits.items():
            rows = kept[split]
            if len(rows) != len(samples):
                images[split] = _compact(partial / f"{split}_images.npy", images[split], rows)
            else:
                images[split].flush()
            labels = np.array([samples[r].label for r in rows], dtype=np.int64)
            np.save(partial / f"{split}_labels.npy", labels)
            shapes[split] = images[split].shape
            files[split] = [
                [samples[r].key, samples[r].size, samples[r].mtime_ns, n.height, n.width, n.mode]
                for r in rows for n in [natives[split][r]] if n is not None
            ]
        mean, std = channel_stats(images["train"])
        if max(std) == 0:
            raise ZooError(f"{spec.name}: every training pixel has the same value; the images carry nothing to learn")
        every = [n for split in splits for r in kept[split] for n in [natives[split][r]] if n is not None]
        decoded = Decoded(
            kind="image folders" if index.kind == "folders" else "images listed in a CSV",
            layout=layout, classes=index.classes, mean=mean, std=std,
            target=(target.height, target.width, target.mode), size_rule=size_rule, mode_rule=mode_rule,
            sizes=dict(Counter(_size_name(n.height, n.width) for n in every).most_common(5)),
            modes=dict(Counter(n.mode for n in every).most_common()),
            resized=sum((n.height, n.width) != (target.height, target.width) for n in every),
            converted=sum(n.kind != target.mode or n.mode not in ("L", "RGB") for n in every),
            skipped=tuple((b.path, b.reason) for b in [*index.bad, *bad]),
            ignored=index.ignored, decoded=len(todo) - len(bad), reused=reused,
            seconds=round(time.perf_counter() - started, 3),
        )
        cache.write_meta(partial, shapes, sources={"source": spec.source}, extra={"local": decoded.to_dict()})
        (partial / INDEX).write_text(json.dumps({"target": list(decoded.target), "files": files}))
    return decoded


def _compact(path: Path, images: np.ndarray, rows: list[int]) -> np.ndarray:
    """Rewrite ``path`` keeping only ``rows`` (the bad files' rows are dropped)."""
    smaller = path.with_name(path.stem + ".kept.npy")
    out = np.lib.format.open_memmap(smaller, mode="w+", dtype=np.uint8, shape=(len(rows), *images.shape[1:]))
    for start in range(0, len(rows), 4096):
        out[start:start + 4096] = images[rows[start:start + 4096]]
    out.flush()
    del images
    os.replace(smaller, path)
    return np.load(path, mmap_mode="r")


# -- .npz -------------------------------------------------------------------------------------


def _npz_fingerprint(spec: LocalDatasetSpec) -> str:
    stat = os.stat(spec.source)
    payload = {"format": LOCAL_FORMAT, "options": spec.options.data_key(), "size": stat.st_size,
               "mtime_ns": stat.st_mtime_ns}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def _npz_split(data: Any, path: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    x_key, y_key = f"x_{split}", f"y_{split}"
    if x_key not in data and y_key not in data:
        return None
    if x_key not in data or y_key not in data:
        raise ZooError(f"{path} has {x_key if x_key in data else y_key} but not "
                       f"{y_key if x_key in data else x_key}; save both")
    images, labels = data[x_key], data[y_key]
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ZooError(f"{path}: {x_key} has shape {images.shape}; expected (N, H, W) or (N, H, W, 1|3|4)")
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.integer) or images.min(initial=0) < 0 or images.max(initial=0) > 255:
            raise ZooError(f"{path}: {x_key} is {images.dtype}; save uint8 pixels 0-255 "
                           "(np.uint8(np.round(x * 255)) for images in [0, 1])")
        images = images.astype(np.uint8)
    labels = labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (images.shape[0],):
        raise ZooError(f"{path}: {y_key} must hold one integer label per image of {x_key} ({images.shape[0]:,}), "
                       f"got {labels.dtype} {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ZooError(f"{path}: {y_key} holds negative labels; use 0..K-1")
    return images, labels.astype(np.int64)


def _convert_arrays(images: np.ndarray, target: Target) -> np.ndarray:
    """NHWC uint8 arrays converted and resized to ``target`` through Pillow, as image files are."""
    from PIL import Image

    from zoo.data.pixels import to_array

    if images.shape[1:] == target.shape:
        return images
    out = np.empty((images.shape[0], *target.shape), dtype=np.uint8)
    pil_mode = {1: "L", 3: "RGB", 4: "RGBA"}[images.shape[-1]]
    for i, image in enumerate(images):
        out[i] = to_array(Image.fromarray(image[..., 0] if pil_mode == "L" else image, mode=pil_mode), target)
    return out


def _read_npz(spec: LocalDatasetSpec) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[str, ...]]:
    """The ``.npz``'s splits (checked) and class names."""
    path = spec.source
    try:
        with np.load(path, allow_pickle=False) as data:
            splits = {s: _npz_split(data, path, s) for s in ("train", "val", "test")}
            names = next((data[k] for k in ("class_names", "classes") if k in data), None)
            if names is not None:
                names = [str(n) for n in names.reshape(-1).tolist()]
    except (OSError, ValueError, EOFError) as exc:
        raise ZooError(f"cannot read {path} as an .npz of x_train, y_train, x_test, y_test arrays ({exc})") from None
    if splits["train"] is None or splits["test"] is None:
        raise ZooError(f"{path} needs x_train, y_train, x_test and y_test (the layout keras.datasets returns)")
    present = {s: v for s, v in splits.items() if v is not None}
    top = max(int(labels.max(initial=0)) for _, labels in present.values())
    classes = tuple(spec.options.classes) or tuple(names or (str(i) for i in range(top + 1)))
    if top >= len(classes):
        raise ZooError(f"{path}: labels go up to {top} but {len(classes)} class name(s) are given; name one per label")
    if len(classes) < 2:
        raise ZooError(f"{path} has one class; a classifier needs at least two")
    for split, (_, labels) in present.items():
        missing = sorted(set(range(len(classes))) - set(np.unique(labels).tolist()))
        if missing and split != "val":
            raise ZooError(f"{path}: class {classes[missing[0]]!r} has no {split} image; every class needs "
                           "train and test images")
    return present, classes


def _build_npz(spec: LocalDatasetSpec, entry: Path) -> Decoded:
    started = time.perf_counter()
    path = spec.source
    options = spec.options
    present, classes = _read_npz(spec)
    natives = [Native(x.shape[1], x.shape[2], "L" if x.shape[3] == 1 else "RGB") for x, _ in present.values()
               for _ in range(x.shape[0])]
    target, size_rule, mode_rule = choose_target(options, natives)
    shapes = {}
    converted: dict[str, np.ndarray] = {}
    with cache.building(entry) as partial:
        for split, (images, labels) in present.items():
            converted[split] = _convert_arrays(images, target)
            np.save(partial / f"{split}_images.npy", converted[split])
            np.save(partial / f"{split}_labels.npy", labels)
            shapes[split] = converted[split].shape
        mean, std = channel_stats(converted["train"])
        decoded = Decoded(
            kind="arrays in an .npz", layout="x_train/x_test" + ("/x_val" if "val" in present else ""),
            classes=classes, mean=mean, std=std, target=(target.height, target.width, target.mode),
            size_rule=size_rule, mode_rule=mode_rule,
            sizes=dict(Counter(_size_name(n.height, n.width) for n in natives).most_common(5)),
            modes=dict(Counter(n.mode for n in natives).most_common()),
            resized=sum((n.height, n.width) != (target.height, target.width) for n in natives),
            converted=sum(n.kind != target.mode for n in natives), skipped=(), ignored=0,
            decoded=len(natives), reused=0, seconds=round(time.perf_counter() - started, 3),
        )
        cache.write_meta(partial, shapes, sources={"source": path}, extra={"local": decoded.to_dict()})
    return decoded


# -- resolving --------------------------------------------------------------------------------


def _fingerprint(spec: LocalDatasetSpec) -> tuple[str, SourceIndex | None]:
    if not os.path.exists(spec.source):
        hint = f"; restore it, or 'zoo data remove {spec.name}'" if spec.registered else ""
        raise UsageError(f"dataset {spec.name!r}: {spec.source} does not exist{hint}")
    if spec.source.lower().endswith(".npz"):
        return _npz_fingerprint(spec), None
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
    key, index = _fingerprint(spec)
    entry = cache_dir_for(spec) / f"arrays-{key}"
    opened = _open(entry)
    if opened is None:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZooError(f"cannot create the cache directory {entry.parent} ({exc.strerror or exc}); "
                           "set ZOO_CACHE_DIR to a writable directory") from None
        decoded = _build_npz(spec, entry) if index is None else _build_images(spec, index, entry, progress)
        if progress:
            _announce(spec, decoded, entry)
        cache.prune_stale_entries(entry.parent, entry)
        opened = _open(entry)
        if opened is None:
            raise ZooError(f"the arrays just written to {entry} cannot be read back; delete {entry.parent} and retry")
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


def decoded_summary(entry: Path) -> Decoded | None:
    """What the entry's ``meta.json`` says about how it was decoded."""
    with contextlib.suppress(KeyError, TypeError, ValueError):
        return Decoded.from_dict(cache.read_meta(entry)["local"])  # type: ignore[arg-type]
    return None


@dataclass(frozen=True)
class LocalCheck:
    """What ``zoo data verify`` found: files decoded, the bad ones, and whether the cache is current."""

    checked: int
    bad: tuple[BadFile, ...]
    cache: str


def verify_local(spec: LocalDatasetSpec, *, progress: bool = True) -> LocalCheck:
    """Decode every file of the source again (nothing is written) and compare with the cache."""
    key, index = _fingerprint(spec)
    entry = cache_dir_for(spec) / f"arrays-{key}"
    state = "current" if (entry / cache.META).is_file() else ("stale" if is_cached(spec) else "none")
    if index is None:
        present, _ = _read_npz(spec)
        return LocalCheck(sum(len(labels) for _, labels in present.values()), (), state)
    samples = [s for split in index.arrange(spec.options)[0].values() for s in split]
    label = f"verifying {Path(spec.source).name}" if progress else None
    result = decode_files([s.path for s in samples], Target(1, 1, "grey"), label=label)
    bad = [*index.bad, *(BadFile(samples[p].key, reason) for p, reason in sorted(result.bad.items()))]
    return LocalCheck(len(samples) + len(index.bad), tuple(bad), state)
