"""An image folder's first decode and later loads: zoo against torchvision's ImageFolder + DataLoader.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_image_folder.py [--count 60000] [--repeat 3] [--workers 2]

It writes real Fashion-MNIST training images (Debian's package, or
``--data-dir``) as 28x28 PNG files in class folders under a temporary
directory, then measures in the same run, alternating:

- zoo's first decode: ``load_dataset(<folder>)`` into an empty cache (scan,
  decode with Pillow in worker processes, mean/std, write the cache);
- ``torchvision.datasets.ImageFolder(folder, transform=ToTensor())`` and one
  pass of a ``DataLoader(batch_size=256, num_workers=--workers)`` over it,
  the way a PyTorch tutorial reads a folder;
- zoo's later load, alternating the two change checks: the default
  (``check="files"``: one ``lstat`` per file, so that a file rewritten in
  place is noticed) and the opt-in ``check="dirs"`` (``zoo data add NAME PATH
  --check dirs``: the directories only); the default once more reading every
  pixel; and each check's walk alone, the floor of a later load.

The files were just written, so both decoders read them from the page cache.
Goals: zoo's first decode faster than ImageFolder + DataLoader; a later load
at least 50x faster than the first decode (reported for each check).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
FASHION = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("0-tshirt-top", "1-trouser", "2-pullover", "3-dress", "4-coat", "5-sandal", "6-shirt", "7-sneaker",
           "8-bag", "9-ankle-boot")


def write_folder(data_dir: Path, root: Path, count: int) -> None:
    """The first ``count`` Fashion-MNIST training images as PNG files in class folders."""
    import numpy as np
    from PIL import Image

    from zoo.data.formats import read_idx

    images = read_idx(data_dir / "train-images-idx3-ubyte.gz")[:count]
    labels = read_idx(data_dir / "train-labels-idx1-ubyte.gz")[:count]
    for name in CLASSES:
        (root / name).mkdir(parents=True)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(np.asarray(image)).save(root / CLASSES[label] / f"{index:05d}.png")


def zoo_first(root: Path, cache: Path) -> tuple[float, int]:
    from zoo.data import load_dataset

    shutil.rmtree(cache, ignore_errors=True)
    start = time.perf_counter()
    data = load_dataset(str(root), progress=False)
    seconds = time.perf_counter() - start
    return seconds, len(data.train) + len(data.test)


def zoo_later(root: Path, touch: bool, check: str = "files") -> float:
    import numpy as np

    from zoo.data.local import load_local
    from zoo.data.local_registry import path_spec
    from zoo.data.local_spec import LocalOptions

    start = time.perf_counter()
    data = load_local(path_spec(str(root), LocalOptions(check=check)), progress=False)
    if touch:
        int(np.asarray(data.train.images).sum()) + int(np.asarray(data.test.images).sum())
    return time.perf_counter() - start


def scan_only(root: Path) -> float:
    """The part of a later load that looks at every file: one lstat each, and the fingerprint."""
    from zoo.data.folders import scan_source
    from zoo.data.local_spec import LocalOptions

    start = time.perf_counter()
    scan_source(root, LocalOptions()).fingerprint(LocalOptions())
    return time.perf_counter() - start


def dirs_only(root: Path) -> float:
    """The part of a later load under ``check="dirs"`` that looks at the folder: its directories."""
    from zoo.data.folder_dirs import directory_key

    start = time.perf_counter()
    directory_key(str(root))
    return time.perf_counter() - start


def torchvision_pass(root: Path, workers: int) -> tuple[float, int]:
    import torch
    from torchvision import datasets, transforms

    start = time.perf_counter()
    folder = datasets.ImageFolder(str(root), transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(folder, batch_size=256, num_workers=workers, shuffle=False)
    seen = 0
    for images, _labels in loader:
        seen += images.shape[0]
    return time.perf_counter() - start, seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=FASHION, help="directory holding Fashion-MNIST's .gz files")
    parser.add_argument("--count", type=int, default=60_000, help="images to write (the first N of train)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each first-decode measurement")
    parser.add_argument("--later", type=int, default=7, help="runs of each later-load measurement")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="DataLoader workers (zoo decides its own: one per usable CPU)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="zoo-bench-folder-") as scratch:
        root = Path(scratch) / "fashion-png"
        cache = Path(scratch) / "cache"
        os.environ["ZOO_CACHE_DIR"] = str(cache)
        os.environ["ZOO_HOME"] = str(Path(scratch) / "home")
        started = time.perf_counter()
        write_folder(args.data_dir, root, args.count)
        print(f"wrote {args.count:,} PNG files in {time.perf_counter() - started:.1f} s under {root}", flush=True)
        from zoo.plugins.registry import get_registry

        get_registry()  # plugin discovery happens once per process; not part of any figure
        zoo_times, tv_times = [], []
        for _ in range(args.repeat):
            seconds, seen = zoo_first(root, cache)
            assert seen == args.count, seen
            zoo_times.append(seconds)
            seconds, seen = torchvision_pass(root, args.workers)
            assert seen == args.count, seen
            tv_times.append(seconds)
        zoo_later(root, touch=False, check="dirs")  # the first load under dirs checks every file once
        later, quick, touched, scans, walks = [], [], [], [], []
        for _ in range(args.later):  # alternated: the machine's load drifts
            later.append(zoo_later(root, touch=False))
            quick.append(zoo_later(root, touch=False, check="dirs"))
            touched.append(zoo_later(root, touch=True))
            scans.append(scan_only(root))
            walks.append(dirs_only(root))

    import numpy as np
    import PIL
    import torch
    import torchvision

    first, tv, again, again_quick, again_touch = (statistics.median(v) for v in
                                                  (zoo_times, tv_times, later, quick, touched))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), "
          f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}; Python {platform.python_version()}, "
          f"numpy {np.__version__}, Pillow {PIL.__version__}, torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}")
    print(f"{'measurement':<58} {'best':>8} {'median':>8}")
    rows = [
        ("zoo first decode (scan, decode, mean/std, write cache)", zoo_times),
        (f"torchvision ImageFolder + DataLoader pass ({args.workers} workers)", tv_times),
        ("zoo later load, check files (scan + memory-map)", later),
        ("zoo later load, check files + read every pixel", touched),
        ("  of which: the scan (lstat every file, fingerprint)", scans),
        ("zoo later load, check dirs (directories + memory-map)", quick),
        ("  of which: the directories (listing, mtime, names)", walks),
    ]
    for name, values in rows:
        print(f"{name:<58} {min(values):>7.3f}s {statistics.median(values):>7.3f}s")
    print(f"zoo first decode vs ImageFolder + DataLoader (median): {tv / first:.2f}x faster")
    print(f"later load vs first decode (median): check files {first / again:,.0f}x faster "
          f"({first / again_touch:,.0f}x reading every pixel), check dirs {first / again_quick:,.0f}x faster")
    print(f"goal, first decode faster than ImageFolder + DataLoader: {'met' if first < tv else 'NOT met'}")
    for check, seconds in (("files", again), ("dirs", again_quick)):
        print(f"goal, later load >= 50x faster, check {check}: {'met' if first / seconds >= 50 else 'NOT met'}")
    print(f"load average at the end {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0 if first < tv and first / min(again, again_quick) >= 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
