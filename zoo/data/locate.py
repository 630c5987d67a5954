"""Where a dataset's files are: the search order, checksum verification, and fetching what is missing.

Search order: ``--data-dir`` (or ``ZOO_DATA_DIR``), then the user cache
(``ZOO_CACHE_DIR`` overrides platformdirs), then the spec's system
directories (Debian's ``/usr/share/datasets/<name>``), then download into the
cache. A place counts only when it holds every file of the dataset and each
one verifies; Debian recompressed its ``.gz`` files, so a copy whose bytes
differ from the published checksum still counts when its decompressed
content matches ``content_sha256``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zoo.api.errors import ZooError
from zoo.api.paths import CACHE_ENV, cache_home
from zoo.api.specs import DataFile, DatasetSpec

DATA_DIR_ENV = "ZOO_DATA_DIR"
OFFLINE_ENV = "ZOO_OFFLINE"
_READ = 1 << 20


def cache_root() -> Path:
    """Root of zoo's dataset cache: ``$ZOO_CACHE_DIR/datasets`` or the platform's user cache."""
    return cache_home() / "datasets"


def cache_dir(spec: DatasetSpec) -> Path:
    """The cache directory of one dataset (downloads land here)."""
    return cache_root() / spec.name


def offline() -> bool:
    """Whether downloads are switched off (``ZOO_OFFLINE=1``)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Place:
    """A directory that may hold a dataset's files; ``kind`` is data-dir, cache or system."""

    kind: str
    path: Path


def search_places(spec: DatasetSpec, data_dir: str | Path | None = None) -> list[Place]:
    """The directories searched for ``spec``'s files, in order."""
    places: list[Place] = []
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV, "").strip() or None
    if chosen is not None:
        root = Path(chosen).expanduser()
        places += [Place("data-dir", root / spec.name), Place("data-dir", root)]
    places.append(Place("cache", cache_dir(spec)))
    places += [Place("system", Path(d)) for d in spec.system_dirs]
    unique: dict[Path, Place] = {}
    for place in places:
        unique.setdefault(place.path, place)
    return list(unique.values())


# -- verification ----------------------------------------------------------------


def file_digests(path: Path, kinds: Iterable[str] = ("md5", "sha256")) -> dict[str, str]:
    """Hex digests of a file's bytes, one per hashlib algorithm name in ``kinds``."""
    hashes = {kind: hashlib.new(kind, usedforsecurity=False) for kind in kinds}
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ):
            for digest in hashes.values():
                digest.update(chunk)
    return {kind: digest.hexdigest() for kind, digest in hashes.items()}


def content_sha256(path: Path) -> str:
    """sha256 of a gzip file's decompressed content (of the bytes when not gzip)."""
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        is_gzip = raw.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if is_gzip else open(path, "rb")) as handle:
        while chunk := handle.read(_READ):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(file: DataFile, path: Path) -> tuple[bool, str]:
    """Whether ``path`` is a good copy of ``file``, and how that was decided (or what is wrong).

    Good means: its bytes match every published checksum (md5, sha256), or its
    decompressed content matches ``content_sha256`` (a recompressed copy).
    A file without any checksum in its spec is accepted as it is.
    """
    published = {kind: want.lower() for kind, want in (("md5", file.md5), ("sha256", file.sha256)) if want}
    try:
        digests = file_digests(path, published)
    except OSError as exc:
        return False, f"cannot read it ({exc.strerror or exc})"
    declared = {kind: (want, digests[kind]) for kind, want in published.items()}
    if declared and all(want == got for want, got in declared.values()):
        return True, " and ".join(declared) + " match"
    if not declared and not file.content_sha256:
        return True, "no published checksum to check"
    problems = [f"{kind} is {got}, expected {want}" for kind, (want, got) in declared.items() if want != got]
    if file.content_sha256:
        try:
            if content_sha256(path) == file.content_sha256.lower():
                note = " (a recompressed copy)" if declared else ""
                return True, f"decompressed content's sha256 matches{note}"
            problems.append(f"decompressed content's sha256 is not {file.content_sha256}")
        except (OSError, EOFError, zlib.error) as exc:
            problems.append(f"not a valid gzip file ({exc})")
    return False, ", and ".join(problems)


def verify_file(file: DataFile, path: Path) -> str | None:
    """None when ``path`` is a good copy of ``file`` (see :func:`check_file`), else what is wrong."""
    ok, detail = check_file(file, path)
    return None if ok else detail


@dataclass(frozen=True)
class FileStatus:
    """One file of a dataset in one place: ``state`` is ok, missing or bad."""

    place: Place
    file: DataFile
    path: Path
    state: str
    detail: str = ""


def check_place(spec: DatasetSpec, place: Place) -> list[FileStatus]:
    """The state of each of ``spec``'s files in ``place`` (checksums verified)."""
    statuses = []
    for file in spec.files:
        path = place.path / file.name
        if not path.is_file():
            statuses.append(FileStatus(place, file, path, "missing"))
            continue
        ok, detail = check_file(file, path)
        statuses.append(FileStatus(place, file, path, "ok" if ok else "bad", detail))
    return statuses


@dataclass(frozen=True)
class Located:
    """A place holding every file of a dataset, each verified."""

    spec: DatasetSpec
    place: Place

    @property
    def directory(self) -> Path:
        """The directory to hand to the dataset's loader."""
        return self.place.path

    def paths(self) -> dict[str, Path]:
        """File name to path."""
        return {f.name: self.place.path / f.name for f in self.spec.files}


def find_local(
    spec: DatasetSpec, data_dir: str | Path | None = None, *, notes: list[str] | None = None
) -> Located | None:
    """The first place holding a complete, verified copy, or None.

    Bad copies met on the way are described in ``notes`` (when given).
    """
    for place in search_places(spec, data_dir):
        if not place.path.is_dir():
            continue
        statuses = check_place(spec, place)
        if all(s.state == "ok" for s in statuses):
            return Located(spec, place)
        if notes is not None:
            notes.extend(
                f"{s.path} fails its checksum ({s.detail}); delete it or replace it with a good copy"
                for s in statuses
                if s.state == "bad"
            )
    return None


def refused_data_dir_copies(spec: DatasetSpec, data_dir: str | Path) -> list[str]:
    """What is wrong with ``data_dir``'s copy of ``spec``'s files (bad checksums, or none there at all)."""
    places = [p for p in search_places(spec, data_dir) if p.kind == "data-dir"]
    notes, found_any = [], False
    for place in places:
        if not place.path.is_dir():
            continue
        statuses = check_place(spec, place)
        if all(s.state == "ok" for s in statuses):
            return []
        found_any = found_any or any(s.state != "missing" for s in statuses)
        notes.extend(f"{s.path} fails its checksum ({s.detail})" for s in statuses if s.state == "bad")
    if not found_any:
        names = ", ".join(f.name for f in spec.files)
        notes.append(f"`data_dir` {data_dir} holds none of {spec.name}'s files ({names})")
    return notes


def warn_refused(notes: Iterable[str], using: str) -> None:
    """One stderr line per copy passed over, saying what is used instead."""
    for note in notes:
        print(f"zoo: warning: {note}; using {using}", file=sys.stderr, flush=True)


def _debian_package(spec: DatasetSpec) -> str | None:
    for directory in spec.system_dirs:
        parent, _, name = directory.rstrip("/").rpartition("/")
        if parent == "/usr/share/datasets" and name:
            return f"dataset-{name}"
    return None


def how_to_provide(spec: DatasetSpec) -> str:
    """The ways a user can give zoo the files, as one clause."""
    files = ", ".join(f.name for f in spec.files)
    ways = [
        f"put {files} in a directory and pass `data_dir` DIR (or set {DATA_DIR_ENV})",
        "set ZOO_DATASET_MIRROR to a mirror URL serving <mirror>/" + spec.name + "/<file>",
    ]
    package = _debian_package(spec)
    if package:
        ways.append(f"install the Debian package {package}")
    return "; or ".join(ways)


def not_found_error(
    spec: DatasetSpec, places: Iterable[Place], notes: Iterable[str], failure: str | None
) -> ZooError:
    """The one error for a dataset that is nowhere: what was searched and how to fix it."""
    searched = ", ".join(str(p.path) for p in places)
    parts = [f"dataset {spec.name!r} is not available: searched {searched}"]
    parts += list(notes)
    parts.append(failure or f"downloads are off ({OFFLINE_ENV} is set)")
    parts.append("to provide it, " + how_to_provide(spec))
    return ZooError("; ".join(parts))


def ensure_local(
    spec: DatasetSpec,
    data_dir: str | Path | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> Located:
    """A verified local copy of every file, downloading into the cache when needed.

    Cached files that fail their checksum are fetched again (the good copy
    replaces the bad one atomically). When no copy can be had, one
    :class:`~zoo.errors.ZooError` names the dataset, the places searched and
    the ways to provide the files.
    """
    from zoo.data.fetch import DownloadError, candidate_urls
    from zoo.data.fetch import download as fetch

    if not spec.files:  # a loader that needs no files (data bundled with a library)
        return Located(spec, Place("cache", cache_dir(spec)))
    notes: list[str] = []
    found = find_local(spec, data_dir, notes=notes)
    if found is not None:
        if not notes and data_dir is not None and found.place.kind != "data-dir":
            notes = refused_data_dir_copies(spec, data_dir)
        warn_refused(notes, f"the copy in {found.place.path} ({found.place.kind})")
        return found
    places = search_places(spec, data_dir)
    if not download or offline():
        raise not_found_error(spec, places, notes, None if offline() else "downloading was not allowed")
    target = Place("cache", cache_dir(spec))
    try:
        target.path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(
            f"cannot create the cache directory {target.path} ({exc.strerror or exc}); "
            f"set {CACHE_ENV} to a writable directory"
        ) from exc
    for status in check_place(spec, target):
        if status.state == "ok":
            continue
        urls = candidate_urls(spec, status.file)
        try:
            fetch(urls, status.path, verify=lambda p, f=status.file: verify_file(f, p), progress=progress)
        except DownloadError as exc:
            raise not_found_error(spec, places, notes, str(exc)) from exc
    return Located(spec, target)
