"""Test accuracy and wall time of the default recipe, per model and dataset (issues 4 and 5).

Trains each model on each dataset with ``zoo train`` and nothing but the
model's default recipe (for ``alexnet-*-bn``: the MNIST tutorial's Adam 1e-3,
batch 128, validation split 0.1, with 30 epochs, the rate decayed by a
per-epoch cosine, label smoothing 0.1, images below 56 px resized up to 56, and the
dataset's default augmentation, ``shift`` on MNIST and Fashion-MNIST;
``-- --epochs 10 --scheduler none --augment none --label-smoothing 0
--image-size 28`` is the tutorial's recipe),
one run after another so that they do not share the cores, then prints a
Markdown table and draws one training-curves picture per dataset with every
model on it.

Each run writes ``OUT/<model>_<dataset>.json`` (``zoo train -f json``) and is
recorded in the run store, which the curves are read from. A run whose JSON is
already there is not repeated, so ``--report`` (or rerunning after an
interruption) only reports::

    ZOO_HOME=/tmp/acc/home .venv/bin/python benchmarks/bench_default_recipe.py \\
        --mnist-dir ../shared/datasets/mnist --out /tmp/acc   # ~8 h on a 2-core CPU (5 with -- --precision bf16)
    ZOO_HOME=/tmp/acc/home .venv/bin/python benchmarks/bench_default_recipe.py --out /tmp/acc --report

Pass extra ``zoo train`` options after ``--`` (e.g. ``-- --scheduler cosine``);
they are recorded in the table's recipe column.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from zoo.cli.plots import plot_training_curves
from zoo.cli.report import render_rows
from zoo.run.store import RunStore

MODELS = ("alexnet-torch-bn", "alexnet-keras-bn")
DATASETS = ("mnist", "fashion-mnist")


def result_path(out: Path, model: str, dataset: str, tag: str) -> Path:
    return out / f"{model}_{dataset}{tag}.json"


def train(model: str, dataset: str, out: Path, data_dir: Path | None, extra: list[str], tag: str) -> None:
    """One ``zoo train`` run with the default recipe (plus ``extra``); its JSON result lands in ``out``."""
    zoo = shutil.which("zoo") or str(Path(sys.executable).with_name("zoo"))
    command = [zoo, "train", model, "--dataset", dataset, "--output", str(out / f"ckpt_{model}_{dataset}{tag}"),
               "--format", "json", *extra]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    print("$", " ".join(command), flush=True)
    finished = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)  # progress stays on stderr
    if finished.returncode != 0:
        sys.exit(f"{model} on {dataset} failed (exit {finished.returncode}); see the lines above")
    result_path(out, model, dataset, tag).write_text(finished.stdout)


def percent(result: dict[str, Any], name: str) -> float:
    """``zoo train``'s ``top1_pct`` (``top5_pct``); results saved before issue 31 hold the fraction ``top1``."""
    return result[f"{name}_pct"] if f"{name}_pct" in result else 100 * result[name]


def table_row(result: dict[str, Any], epochs: list[dict[str, Any]]) -> dict[str, Any]:
    """One table row from a run's ``zoo train`` JSON and its recorded epochs."""
    best = max(epochs, key=lambda e: e.get("val_accuracy") or 0.0)
    speeds = sorted(e["images_per_sec"] for e in epochs)
    recipe = result["recipe"]
    return {
        "model": result["model"], "dataset": result["dataset"],
        "top-1 %": f"**{percent(result, 'top1'):.2f}**", "top-5 %": f"{percent(result, 'top5'):.2f}",
        "val % (last)": f"{100 * epochs[-1]['val_accuracy']:.2f}",
        "val % (best, epoch)": f"{100 * best['val_accuracy']:.2f} ({best['epoch']})",
        "train img/s (median epoch)": f"{speeds[len(speeds) // 2]:.0f}",
        "wall time": f"{result['seconds'] / 60:.1f} min",
        "recipe": recipe_text(recipe),
    }


def recipe_text(recipe: dict[str, Any]) -> str:
    """A run's recipe in a few words, e.g. ``30 ep, adam 0.001, batch 128, schedule cosine, ...``."""
    parts = [f"{recipe['epochs']} ep", f"{recipe['optimizer']} {recipe['lr']:g}", f"batch {recipe['batch_size']}",
             f"schedule {recipe['scheduler']}", f"augment {recipe.get('augment') or 'dataset default'}"]
    if recipe.get("label_smoothing"):
        parts.append(f"label smoothing {recipe['label_smoothing']:g}")
    if recipe.get("image_size"):
        parts.append(f"{recipe['image_size']} px")
    elif recipe.get("min_image_size"):
        parts.append(f"at least {recipe['min_image_size']} px")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--mnist-dir", type=Path, help="Directory with the four official MNIST gz files.")
    parser.add_argument("--out", type=Path, required=True, help="Where results, checkpoints and pictures go.")
    parser.add_argument("--tag", default="", help="Suffix for this recipe's files, e.g. _cosine.")
    parser.add_argument("--report", action="store_true", help="Only report the runs already in --out.")
    parser.add_argument("extra", nargs="*", help="Extra zoo train options, after --.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    store = RunStore()
    rows = []
    for dataset in args.datasets:
        histories = {}
        for model in args.models:
            path = result_path(args.out, model, dataset, args.tag)
            if not path.exists() and not args.report:
                train(model, dataset, args.out, args.mnist_dir if dataset == "mnist" else None, args.extra, args.tag)
            if not path.exists():
                print(f"(no result for {model} on {dataset})")
                continue
            result = json.loads(path.read_text())
            epochs = store.get(result["run_id"]).epochs
            rows.append(table_row(result, epochs))
            histories[f"{model} ({percent(result, 'top1'):.2f}%)"] = epochs
        if histories:
            picture = args.out / f"curves_{dataset}{args.tag}.png"
            plot_training_curves(histories, picture)
            print(f"wrote {picture}")
    if rows:
        print(render_rows(rows, list(rows[0]), "markdown"), end="")


if __name__ == "__main__":
    main()
