"""Scanning a local source into an index: which file is which class in which split.

Two sources of image files (``.npz`` arrays are read in :mod:`zoo.data.local`):

- a folder: ``train/<class>/*`` and ``test/<class>/*`` (``val/`` too, or
  ``val/`` alone standing in for ``test/``), or ``<class>/*`` folders that a
  seeded, stratified ``test_split`` divides;
- a CSV of ``path,label`` rows (optional ``split`` column), paths relative to
  the CSV's folder.

Nothing is decoded here: each file is only ``stat``-ed, so a scan of 60,000
files takes a fraction of a second and its fingerprint (paths, sizes, mtimes,
labels, splits, options) says whether cached arrays still match the files.
A cached load costs little more than the ``lstat`` calls: each class folder is
listed and ``lstat``-ed relative to an open directory (no path walk per file)
by a small thread pool (``lstat`` releases the GIL), into columns of names,
sizes and mtimes that the fingerprint hashes whole; :class:`Sample` objects
are made only when the files are decoded.
Problems users can fix are one :class:`~zoo.errors.ZooError` naming the file
or folder; unreadable entries (broken links, links pointing out of the folder,
listed files that are missing) are returned as :class:`BadFile` for
``skip_bad`` to decide.
"""

from __future__ import annotations

import csv
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from zoo.api.errors import ZooError
from zoo.data.local_spec import LocalOptions
from zoo.data.source_index import (
    SPLIT_FOLDERS,
    BadFile,
    Listing,
    Sample,
    SourceIndex,
    class_order,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SCAN_THREADS = 4  # lstat waits on the kernel with the GIL released; more threads than cores still help
NOT_REGULAR = "is not a regular file (a FIFO, socket or device)"


# -- folders --------------------------------------------------------------------------


class _Walker:
    """Collects the image files under class folders, following links only inside the root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.bad: list[BadFile] = []
        self.ignored = 0

    def _inside(self, real: str) -> bool:
        return real == self.real_root or real.startswith(self.real_root.rstrip(os.sep) + os.sep)

    def _link_problem(self, path: str) -> str | None:
        real = os.path.realpath(path)
        if not os.path.exists(real):
            return f"is a broken symbolic link (to {os.readlink(path)})"
        if not self._inside(real):
            return f"is a symbolic link to {real}, outside {self.root}"
        return None

    def subfolders(self, folder: Path) -> list[os.DirEntry[str]]:
        """Visible sub-folders of ``folder``, sorted; a broken link or a link out of the root is an error."""
        found = []
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                if entry.is_symlink() and not entry.is_file(follow_symlinks=True):
                    problem = self._link_problem(entry.path)
                    if problem:
                        raise ZooError(f"{entry.path} {problem}; copy the folder in, or remove the link")
                if entry.is_dir(follow_symlinks=True):
                    found.append(entry)
        return found

    def files(self, folder: str, label: int, prefix: str, seen: set[str],
              listed: Future[_Entries] | None = None) -> list[Listing]:
        """Image files under ``folder`` (recursively) as listings of ``label``; ``listed``: its
        entries, already listed by a worker thread.

        Listing is most of what a cached load costs (60,000 files): regular
        image files go straight into the columns (:func:`list_folder`); links,
        sub-folders and anything else are looked at here, one by one.
        """
        real = os.path.realpath(folder)
        if real in seen:  # a link loop, or a folder linked twice
            return []
        seen.add(real)
        kept, sizes, mtimes, others, ignored = listed.result() if listed is not None else list_folder(folder)
        listings = [Listing(prefix + "/", folder + "/", label, kept, sizes, mtimes)]
        for name, info in others:
            path = f"{folder}/{name}"
            if stat.S_ISLNK(info.st_mode):
                problem = self._link_problem(path)
                if problem:
                    self.bad.append(BadFile(f"{prefix}/{name}", problem))
                    continue
                info = os.stat(path)
            if stat.S_ISDIR(info.st_mode):
                listings += self.files(path, label, f"{prefix}/{name}", seen)
            elif not name.lower().endswith(IMAGE_SUFFIXES):
                ignored += 1
            elif not stat.S_ISREG(info.st_mode):  # reading a FIFO would wait for a writer forever
                self.bad.append(BadFile(f"{prefix}/{name}", NOT_REGULAR))
            else:  # a link to a file inside the root
                kept.append(name)
                sizes.append(info.st_size)
                mtimes.append(info.st_mtime_ns)
        self.ignored += ignored
        return listings


_Entries = tuple[list[str], list[int], list[int], list[tuple[str, os.stat_result]], int]
_AT_DIR = os.lstat in os.supports_dir_fd and os.listdir in os.supports_fd


def list_folder(folder: str) -> _Entries:
    """The visible entries of ``folder`` in name order, each ``lstat``-ed: the regular image files
    as columns (names, sizes, mtimes), every other entry with its ``lstat`` (links, folders, FIFOs),
    and how many regular files are not images.

    Relative to the open directory where the OS allows (``fstatat``): the
    kernel does not walk the folder's path again for every file. One pass,
    keeping no ``stat`` result of a plain image file.
    """
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)) if _AT_DIR else None
    try:
        names = sorted(name for name in os.listdir(folder if fd is None else fd) if not name.startswith("."))
        kept: list[str] = []
        sizes: list[int] = []
        mtimes: list[int] = []
        others: list[tuple[str, os.stat_result]] = []
        ignored = 0
        lstat, is_regular = os.lstat, stat.S_ISREG
        for name in names:
            info = lstat(f"{folder}/{name}") if fd is None else lstat(name, dir_fd=fd)
            if not is_regular(info.st_mode):
                others.append((name, info))
            elif name.lower().endswith(IMAGE_SUFFIXES):
                kept.append(name)
                sizes.append(info.st_size)
                mtimes.append(info.st_mtime_ns)
            else:
                ignored += 1
        return kept, sizes, mtimes, others, ignored
    finally:
        if fd is not None:
            os.close(fd)


def _class_folders(walker: _Walker, folder: Path, where: str) -> dict[str, os.DirEntry[str]]:
    classes = {entry.name: entry for entry in walker.subfolders(folder)}
    if not classes:
        has_images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir() if p.is_file())
        what = "holds images but no class folders" if has_images else "holds no class folders"
        raise ZooError(f"{where} {what}; put each class's images in a folder named after the class "
                       "(photos/cat/1.jpg, photos/dog/2.jpg)")
    return classes


def _split_folders(walker: _Walker, root: Path) -> dict[str, Path]:
    folders = {entry.name.lower(): entry for entry in walker.subfolders(root)}
    splits = {name: Path(folders[name].path) for name in SPLIT_FOLDERS if name in folders}
    if not splits:
        return {}
    others = sorted(entry.name for key, entry in folders.items() if key not in SPLIT_FOLDERS)
    if others:
        raise ZooError(
            f"{root} holds {'/, '.join(sorted(splits))}/ and also {', '.join(others)}; "
            "move the other folders out, or point zoo at a folder holding only class folders"
        )
    if "train" not in splits:
        raise ZooError(f"{root} has {'/ and '.join(sorted(splits))}/ but no train/; add train/<class>/ folders")
    return splits


def _check_classes(listings_by_class: dict[str, list[Listing]], where: str) -> None:
    for name, listings in listings_by_class.items():
        if not any(listing.names for listing in listings):
            raise ZooError(f"class folder {where}/{name} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                           "add images or remove the folder")


def scan_folder(root: Path, options: LocalOptions) -> SourceIndex:
    """Index a folder of class folders (see the module docstring for the layouts)."""
    walker = _Walker(root)
    split_dirs = _split_folders(walker, root)
    if set(split_dirs) == {"train"}:  # train/ alone: one set of class folders to split
        root_of_classes = {"all": split_dirs["train"]}
    else:
        root_of_classes = dict(split_dirs) or {"all": root}
    by_split = {split: _class_folders(walker, folder, str(folder)) for split, folder in root_of_classes.items()}
    train_names = set(by_split.get("train", by_split.get("all", {})))
    for split, folders in by_split.items():
        if split in ("train", "all"):
            continue
        if train_names - set(folders):
            missing = sorted(train_names - set(folders))[0]
            raise ZooError(f"class {missing!r} is in {root}/train/ but not in {root}/{split}/; "
                           f"add {split} images for it, or remove it from train/")
        if set(folders) - train_names:
            extra = sorted(set(folders) - train_names)[0]
            raise ZooError(f"class {extra!r} is in {root}/{split}/ but not in {root}/train/; "
                           f"add training images for it, or remove it from {split}/")
    classes = class_order(train_names, options.classes, str(root))
    if len(classes) < 2:
        raise ZooError(f"{root} has one class ({classes[0]}); a classifier needs at least two class folders")
    label_of = {name: i for i, name in enumerate(classes)}
    listings: dict[str, list[Listing]] = {}
    jobs = [(split, name, entry.path) for split, folders in by_split.items() for name, entry in folders.items()]
    with ThreadPoolExecutor(max_workers=min(SCAN_THREADS, len(jobs)), thread_name_prefix="zoo-scan") as pool:
        listed = {(split, name): pool.submit(list_folder, path) for split, name, path in jobs}
        for split, folders in by_split.items():
            folder = root_of_classes[split]
            prefix = os.path.relpath(folder, root).replace(os.sep, "/")
            prefix = "" if prefix == "." else prefix + "/"
            seen: set[str] = set()
            per_class = {name: walker.files(entry.path, label_of[name], prefix + entry.name, seen,
                                            listed[(split, name)])
                         for name, entry in folders.items()}
            _check_classes(per_class, str(folder))
            listings[split] = [listing for name in classes for listing in per_class[name]]
    return SourceIndex("folders", str(root), classes, listings, walker.bad, walker.ignored)



# -- CSV ------------------------------------------------------------------------------


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            numbered = enumerate(csv.reader(handle), start=1)
            rows = [(number, row) for number, row in numbered if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ZooError(f"cannot read {path} as a CSV of path,label rows ({exc})") from None
    if not rows:
        raise ZooError(f"{path} is empty; write one path,label row per image")
    return rows


def scan_csv(path: Path, options: LocalOptions) -> SourceIndex:
    """Index a CSV of ``path,label[,split]`` rows; a first row ``path,label[,split]`` is a header."""
    rows = _csv_rows(path)
    header = [c.strip().lower() for c in rows[0][1]]
    columns = 2
    if header in (["path", "label"], ["path", "label", "split"]):
        columns = len(header)
        rows = rows[1:]
    elif len(rows[0][1]) == 3:
        columns = 3
    base = path.parent
    entries: list[tuple[str, str, str, str]] = []
    seen: dict[str, int] = {}
    bad: list[BadFile] = []
    for number, row in rows:
        cells = [c.strip() for c in row]
        if len(cells) != columns or not cells[0] or not cells[1]:
            raise ZooError(f"{path} line {number}: expected {'path,label,split' if columns == 3 else 'path,label'}, "
                           f"got {','.join(row)!r}")
        split = cells[2].lower() if columns == 3 else "all"
        if split not in (*SPLIT_FOLDERS, "all"):
            raise ZooError(f"{path} line {number}: split {cells[2]!r} is not train, val or test")
        file_path = os.path.normpath(os.path.join(base, os.path.expanduser(cells[0])))
        key = os.path.relpath(file_path, base) if not os.path.isabs(cells[0]) else file_path
        if key in seen:
            raise ZooError(f"{path} line {number}: {cells[0]} is already listed on line {seen[key]}")
        seen[key] = number
        entries.append((key, file_path, cells[1], split))
    splits_present = {e[3] for e in entries}
    if "all" not in splits_present and "train" not in splits_present:
        raise ZooError(f"{path} has no train rows; mark some rows' split as train")
    if splits_present == {"train"}:
        entries = [(k, p, label, "all") for k, p, label, _ in entries]
        splits_present = {"all"}
    classes = class_order((e[2] for e in entries), options.classes, str(path))
    if len(classes) < 2:
        raise ZooError(f"{path} has one label ({classes[0]}); a classifier needs at least two")
    label_of = {name: i for i, name in enumerate(classes)}
    samples: dict[str, list[Sample]] = {split: [] for split in splits_present}
    for key, file_path, label, split in entries:
        try:
            info = os.stat(file_path)
        except OSError:
            bad.append(BadFile(key, f"is listed in {path.name} but does not exist"))
            continue
        if not stat.S_ISREG(info.st_mode):
            bad.append(BadFile(key, NOT_REGULAR))
            continue
        samples[split].append(Sample(key, file_path, info.st_size, info.st_mtime_ns, label_of[label]))
    return SourceIndex("csv", str(path), classes, bad=bad, given=samples)


def scan_source(source: Path, options: LocalOptions) -> SourceIndex:
    """Index a folder or a CSV."""
    if source.is_dir():
        return scan_folder(source, options)
    return scan_csv(source, options)
