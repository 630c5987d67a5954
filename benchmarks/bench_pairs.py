"""Parameters and MACs of the cross-framework pairs (timm/<x> and keras/<x>, zoo compare --family),
as ``zoo info NAME --input CxHxW`` measures them, for docs/models.md.

    .venv/bin/python benchmarks/bench_pairs.py [--input 1x32x32] [--input 3x224x224] [--num-classes 10]
"""

from __future__ import annotations

import argparse

from zoo.api import CROSS_FRAMEWORK_PAIRS
from zoo.cli.options import parse_input_size
from zoo.plugins.registry import get_registry
from zoo.run.building import summarize_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", action="append", dest="inputs", help="CxHxW (repeatable) [1x32x32, 3x224x224]")
    parser.add_argument("--num-classes", type=int, default=10)
    args = parser.parse_args()
    inputs = [parse_input_size(text) for text in args.inputs or ["1x32x32", "3x224x224"]]
    print("| family | model | input | params | MACs (M) |")
    print("| --- | --- | --- | ---: | ---: |")
    for family in CROSS_FRAMEWORK_PAIRS:
        for entry in get_registry().select_models(family=family):
            for size in inputs:
                summary = summarize_model(entry.name, size, args.num_classes)
                print(f"| {family} | {entry.name} | {'x'.join(map(str, size))} | {summary.param_count:,} | "
                      f"{summary.macs / 1e6:,.1f} |", flush=True)


if __name__ == "__main__":
    main()
