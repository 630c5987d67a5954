"""MNIST load time: parsing the official gz files vs the memory-mapped ``.npy`` cache.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_dataset_load.py [--data-dir ../shared/datasets/mnist] [--repeat 5]

Both are measured in the same run, on the same machine, with a private
temporary cache. Goal: a cached load under 0.1 s and at least 10x faster
than parsing the gz files.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def best_and_median(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best and median wall time of ``repeat`` runs of ``action``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / ".." / "shared" / "datasets" / "mnist",
                        help="directory holding the four official MNIST .gz files")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (best and median shown)")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()

    with tempfile.TemporaryDirectory(prefix="zoo-bench-cache-") as cache:
        os.environ["ZOO_CACHE_DIR"] = cache
        os.environ["ZOO_OFFLINE"] = "1"
        import numpy as np

        from zoo.data import load_dataset
        from zoo.data.loaders import load_idx_dataset
        from zoo.plugins.registry import get_registry

        get_registry()  # plugin discovery happens once per process; not part of either figure
        start = time.perf_counter()
        first = load_dataset("mnist", data_dir=data_dir, progress=False)
        first_load = time.perf_counter() - start
        assert first.train.images.shape == (60_000, 28, 28, 1)

        parse_best, parse_median = best_and_median(lambda: load_idx_dataset(data_dir), args.repeat)
        cached_best, cached_median = best_and_median(
            lambda: load_dataset("mnist", data_dir=data_dir, progress=False), args.repeat
        )

        def read_all() -> None:
            data = load_dataset("mnist", data_dir=data_dir, progress=False)
            int(np.asarray(data.train.images).sum()) + int(np.asarray(data.test.images).sum())

        touch_best, touch_median = best_and_median(read_all, args.repeat)

    ratio = parse_median / cached_median
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(f"data: {data_dir}")
    print(f"first load (verify checksums + parse + write cache): {first_load:.3f} s")
    print(f"{'measurement':<46} {'best':>9} {'median':>9}")
    print(f"{'parse the 4 gz files (gunzip + IDX checks)':<46} {parse_best:>8.4f}s {parse_median:>8.4f}s")
    print(f"{'cached load (memory-mapped .npy)':<46} {cached_best:>8.4f}s {cached_median:>8.4f}s")
    print(f"{'cached load + read every pixel':<46} {touch_best:>8.4f}s {touch_median:>8.4f}s")
    print(f"speed-up (median parse / median cached load): {ratio:,.0f}x")
    met = cached_median < 0.1 and ratio >= 10
    print(f"goal (cached < 0.1 s and >= 10x): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
