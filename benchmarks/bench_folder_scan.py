"""What a later load of an image folder costs before the memory maps: ways to look at 60,000 files.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_folder_scan.py [--count 60000] [--repeat 9] [--folder DIR]

It writes the first ``--count`` real Fashion-MNIST training images as 28x28
PNG files in ten class folders (or uses ``--folder``, such a folder already
written), then times, alternating in each round (the machine's load drifts):

- bare loops over every file: ``os.lstat(full path)``, ``os.lstat(name,
  dir_fd=fd)`` (``fstatat``, no path walk per file), ``os.scandir(fd)`` with
  ``DirEntry.stat()``;
- zoo's scan with its fingerprint (``check="files"``) with 1, 2 and 4
  threads (``zoo.data.folders.SCAN_THREADS``);
- zoo's directory key (``check="dirs"``): the directories only.

The floor of the default check is the bare ``lstat`` loop; what zoo adds on
top of it is the Python work per file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def bare_loops(root: Path) -> dict[str, Callable[[], object]]:
    folders = [str(p) for p in sorted(root.iterdir()) if p.is_dir()]

    def full_path() -> None:
        for folder in folders:
            for name in sorted(os.listdir(folder)):
                os.lstat(f"{folder}/{name}")

    def at_fd() -> None:
        for folder in folders:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for name in sorted(os.listdir(fd)):
                    os.lstat(name, dir_fd=fd)
            finally:
                os.close(fd)

    def scandir_fd() -> None:
        for folder in folders:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        entry.stat(follow_symlinks=False)
            finally:
                os.close(fd)

    return {"bare loop: lstat(full path)": full_path, "bare loop: lstat(name, dir_fd)": at_fd,
            "bare loop: scandir(fd) + DirEntry.stat()": scandir_fd}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60_000, help="images to write (the first N of train)")
    parser.add_argument("--repeat", type=int, default=9, help="rounds; each times every way once")
    parser.add_argument("--folder", type=Path, default=None, help="an image folder already written")
    args = parser.parse_args()

    from zoo.data import folders
    from zoo.data.folder_dirs import directory_key
    from zoo.data.local_spec import LocalOptions

    with tempfile.TemporaryDirectory(prefix="zoo-bench-scan-") as scratch:
        root = args.folder
        if root is None:
            from bench_image_folder import FASHION, write_folder

            root = Path(scratch) / "fashion-png"
            write_folder(FASHION, root, args.count)
        count = sum(len(os.listdir(p)) for p in root.iterdir() if p.is_dir())
        options = LocalOptions()

        def zoo_scan(threads: int) -> Callable[[], object]:
            def run() -> object:
                folders.SCAN_THREADS = threads
                return folders.scan_source(root, options).fingerprint(options)
            return run

        ways = {**bare_loops(root), **{f"zoo scan + fingerprint, {n} thread(s)": zoo_scan(n) for n in (1, 2, 4)},
                "zoo directory key (check dirs)": lambda: directory_key(str(root))}
        times: dict[str, list[float]] = {name: [] for name in ways}
        start_load = os.getloadavg()
        for _ in range(args.repeat):
            for name, way in ways.items():
                start = time.perf_counter()
                way()
                times[name].append(time.perf_counter() - start)
    print(f"{count:,} files; {os.cpu_count()} CPUs; load average {start_load[0]:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end")
    print(f"{'way':<44} {'best':>9} {'median':>9} {'per file':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<44} {min(values) * 1000:>7.1f}ms {median * 1000:>7.1f}ms {median / count * 1e6:>7.2f}us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
