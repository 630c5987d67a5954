"""How long ``zoo list`` takes, against importing tensorflow (and torch), in the same run.

Goal (issue 2): ``zoo list`` under 0.3 s and under a tenth of ``import tensorflow``; (issue 27) also
``zoo list 'timm/*'``, which lists timm's 1,371 architectures.
Each command runs ``--repeat`` times in alternation; medians are printed last.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall(command: list[str]) -> float:
    """Seconds one command takes to run to completion (output discarded)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    zoo = shutil.which("zoo", path=str(Path(sys.executable).parent)) or "zoo"
    commands = {
        "zoo list": [zoo, "list"],
        "zoo list 'timm/*'": [zoo, "list", "timm/*"],  # issue 27: every timm architecture, < 0.3 s
        "python -c pass": [sys.executable, "-c", "pass"],
        "import tensorflow": [sys.executable, "-c", "import tensorflow"],
        "import torch": [sys.executable, "-c", "import torch"],
    }
    for command in commands.values():  # warm the file cache once
        wall(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            times[name].append(wall(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:>18}: median {value:.3f} s over {args.repeat} runs")
    ratio = medians["zoo list"] / medians["import tensorflow"]
    timm_list = medians["zoo list 'timm/*'"]
    print(f"zoo list / import tensorflow = {ratio:.3f} (goal < 0.1); "
          f"zoo list {medians['zoo list']:.3f} s, zoo list 'timm/*' {timm_list:.3f} s (goal < 0.3 s)")


if __name__ == "__main__":
    main()
