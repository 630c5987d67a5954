"""Building a local dataset's cache entry from image files (a folder or a CSV's list).

The target size and mode are guessed from an evenly spread sample of
headers (or the previous entry), every file is decoded to it
(:func:`zoo.data.decode.decode_files`), and when the files' own majority
turns out otherwise they are decoded once more. Files unchanged since the
previous entry (same path, size and mtime, same target) are copied from it
instead of decoded. Bad files fail the build, or are dropped and listed with
``skip_bad``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.api.errors import ZooError
from zoo.data import cache
from zoo.data.decode import decode_files
from zoo.data.local_decoded import Decoded, channel_stats, choose_target, tally
from zoo.data.local_spec import LocalDatasetSpec
from zoo.data.pixels import Native, Target
from zoo.data.source_index import BadFile, Sample, SourceIndex, check_coverage

INDEX = "index.json"
PROBE_FILES = 256


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


def build_images(spec: LocalDatasetSpec, index: SourceIndex, entry: Path, progress: bool) -> Decoded:
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
            **tally(every, target),
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
