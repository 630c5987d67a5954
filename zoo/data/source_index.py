"""A scan's result: which file is which class in which split, its fingerprint, and the order of samples.

:mod:`zoo.data.folders` fills a :class:`SourceIndex` from a folder or a CSV;
:meth:`SourceIndex.fingerprint` says whether cached arrays still match the files,
:meth:`SourceIndex.arrange` splits (stratified, seeded by file) and orders the samples.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from zoo.api.errors import ZooError
from zoo.data.local_spec import LocalOptions

SPLIT_FOLDERS = ("train", "val", "test")
SCAN_FORMAT = 2


class Sample(NamedTuple):
    """One image file: ``key`` names it in the index (relative to the source), ``label`` its class."""

    key: str
    path: str
    size: int
    mtime_ns: int
    label: int


@dataclass(frozen=True)
class BadFile:
    """A file left out, and why (one clause: ``is a broken symbolic link``)."""

    path: str
    reason: str

    def line(self) -> str:
        """``path reason``."""
        return f"{self.path} {self.reason}"


class Listing(NamedTuple):
    """The image files found in one directory, as columns: ``prefix + name`` is a file's key,
    ``folder + name`` its path (both prefixes end in ``/``)."""

    prefix: str
    folder: str
    label: int
    names: list[str]
    sizes: list[int]
    mtimes: list[int]

    def samples(self) -> list[Sample]:
        """One :class:`Sample` per file."""
        prefix, folder, label = self.prefix, self.folder, self.label
        return [Sample(prefix + name, folder + name, size, mtime, label)
                for name, size, mtime in zip(self.names, self.sizes, self.mtimes, strict=True)]


@dataclass
class SourceIndex:
    """What a scan found: classes, the files as found (``all``, or ``train``/``val``/``test``), bad entries.

    A folder's files come as :class:`Listing` columns (``listings``), a CSV's as
    samples (``given``); :attr:`found` gives samples either way. :meth:`arrange`
    splits and orders them; the fingerprint needs neither, so a cached load
    costs the walk and one hash.
    """

    kind: str
    where: str
    classes: tuple[str, ...]
    listings: dict[str, list[Listing]] = field(default_factory=dict)
    bad: list[BadFile] = field(default_factory=list)
    ignored: int = 0
    given: dict[str, list[Sample]] | None = None

    @functools.cached_property
    def found(self) -> dict[str, list[Sample]]:
        """The files of each split as samples."""
        if self.given is not None:
            return self.given
        return {split: [s for listing in listings for s in listing.samples()]
                for split, listings in self.listings.items()}

    def fingerprint(self, options: LocalOptions) -> str:
        """Identity of the files and the options: any change gives another key."""
        digest = hashlib.sha256()
        header = {"format": SCAN_FORMAT, "options": options.data_key(), "classes": list(self.classes)}
        digest.update(json.dumps(header, sort_keys=True).encode())
        if self.given is not None:
            for split, samples in self.given.items():
                digest.update(f"\n[{split}]\n".encode())
                digest.update("\n".join(f"{s.key}\0{s.size}\0{s.mtime_ns}\0{s.label}" for s in samples).encode())
        for split, listings in self.listings.items():
            digest.update(f"\n[{split}]\n".encode())
            for listing in listings:
                digest.update(f"\n{listing.prefix}\0{listing.label}\0{len(listing.names)}\n".encode())
                digest.update("\0".join(listing.names).encode("utf-8", "surrogateescape"))
                digest.update(array("q", listing.sizes).tobytes() + array("q", listing.mtimes).tobytes())
        digest.update(b"\n[bad]\n" + "\n".join(b.line() for b in self.bad).encode("utf-8", "surrogateescape"))
        return digest.hexdigest()[:20]

    @property
    def count(self) -> int:
        """Image files found."""
        if self.given is not None:
            return sum(len(s) for s in self.given.values())
        return sum(len(listing.names) for listings in self.listings.values() for listing in listings)

    def arrange(self, options: LocalOptions) -> tuple[dict[str, list[Sample]], str]:
        """The splits in order (split by ``test_split`` when there is no test split), and the layout in words."""
        folders = self.kind == "folders"
        samples = dict(self.found)
        if "all" in samples:
            train, test = stratified_split(samples.pop("all"), self.classes, options.test_split, options.seed,
                                           self.where)
            samples = {"train": train, "test": test}
            layout = (f"one set, {options.test_split:g} of each class held out as test "
                      f"(seeded by file, seed {options.seed})")
        elif "test" not in samples:
            samples["test"] = samples.pop("val")
            layout = "train/ and val/ (val/ is the test split)" if folders else "train and val rows (val is test)"
        else:
            layout = "split as given: " + ", ".join(f"{s}/" if folders else s for s in SPLIT_FOLDERS if s in samples)
        check_coverage(samples, self.classes, self.where)
        return {split: order_samples(samples[split], options) for split in SPLIT_FOLDERS if split in samples}, layout


def class_order(names: Iterable[str], given: tuple[str, ...], where: str) -> tuple[str, ...]:
    """Label order: ``given`` when set (it must name exactly these classes), else sorted.

    Sorted as torchvision's ``ImageFolder`` and Keras sort folder names (by code
    point), except that names that are all integers sort as numbers (2 before 10).
    """
    found = set(names)
    if given:
        missing, extra = sorted(found - set(given)), sorted(set(given) - found)
        if missing or extra:
            parts = [f"{where} has no class {', '.join(extra)}" if extra else "",
                     f"`classes` leaves out {', '.join(missing)}" if missing else ""]
            raise ZooError("; ".join(p for p in parts if p) + "; `classes` must name every class once")
        return given
    if found and all(re.fullmatch(r"-?\d+", name) for name in found):
        return tuple(sorted(found, key=int))
    return tuple(sorted(found))


def _hash_rank(seed: int, purpose: str, key: str) -> bytes:
    return hashlib.blake2b(f"{purpose}:{seed}:{key}".encode(), digest_size=8).digest()


def _natural(text: str) -> tuple[object, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def order_samples(samples: list[Sample], options: LocalOptions) -> list[Sample]:
    """``shuffle``: a seeded order that adding a file does not reshuffle; ``name``: by file name, then class."""
    if options.order == "name":
        return sorted(samples, key=lambda s: (_natural(os.path.basename(s.key)), s.label, s.key))
    return sorted(samples, key=lambda s: _hash_rank(options.seed, "order", s.key))


def stratified_split(samples: list[Sample], classes: tuple[str, ...], fraction: float, seed: int,
                     where: str) -> tuple[list[Sample], list[Sample]]:
    """Hold out ``fraction`` of each class (at least one image) as test, chosen by a seeded hash of
    the file's key: adding or removing a file moves no other file between splits."""
    train: list[Sample] = []
    test: list[Sample] = []
    for label, name in enumerate(classes):
        members = sorted((s for s in samples if s.label == label), key=lambda s: _hash_rank(seed, "split", s.key))
        held = max(1, round(len(members) * fraction))
        if len(members) - held < 1:
            raise ZooError(
                f"class {name!r} in {where} has {len(members)} image(s): too few for a test split "
                "(it needs one in train and one in test); add images, or give train/ and test/ folders"
            )
        test += members[:held]
        train += members[held:]
    return train, test


def check_coverage(splits: dict[str, list[Sample]], classes: tuple[str, ...], where: str) -> None:
    """Every class needs an image in every split (after bad files are left out)."""
    for split, samples in splits.items():
        present = {s.label for s in samples}
        for label, name in enumerate(classes):
            if label not in present:
                raise ZooError(f"class {name!r} of {where} has no usable {split} image; add one, or remove "
                               "the class")
