"""Training on your own folders: equivalence with the built-in Fashion-MNIST, class names, paths, reuse.

Real CLI processes, real training steps (lenet5-torch from examples/zoo-lenet,
one epoch on a few hundred real Fashion-MNIST images written as PNG files).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.local_data import CLASS_FOLDERS, fashion, needs_fashion, write_classes, write_split_folder

pytestmark = needs_fashion

ONE_EPOCH = ["--epochs", "1", "--batch-size", "32", "--augment", "none", "--seed", "0", "--format", "json"]


def _zoo(zoo_exe: Path, env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(zoo_exe), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture
def env(zoo_env: dict[str, str], dataset_cache: Path) -> dict[str, str]:
    # One torch thread: the two runs compared must not race each other's threads on a shared 2-core machine.
    return {**zoo_env, "ZOO_CACHE_DIR": str(dataset_cache), "ZOO_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_fashion_mnist_as_png_folders_trains_to_the_same_top1_as_the_builtin(
    zoo_exe: Path, env: dict[str, str], tmp_path: Path
) -> None:
    # The first 300 train and 200 test images, named by their index so that --order name keeps the IDX
    # order, in folders that sort in label order; the built-in's rounded mean and std, so that both runs
    # normalise alike.
    root = write_split_folder(tmp_path / "fm-png", train=300, test=200)
    add = _zoo(zoo_exe, env, "data", "add", "fm-png", str(root), "--order", "name", "--mean", "0.2860",
               "--std", "0.3530")
    assert add.returncode == 0, add.stderr
    runs = {}
    for dataset in ("fm-png", "fashion-mnist"):
        result = _zoo(zoo_exe, env, "train", "lenet5-torch", "--dataset", dataset, "--deterministic",
                      "--limit", "300", "--limit-test", "200", *ONE_EPOCH)
        assert result.returncode == 0, result.stderr
        runs[dataset] = json.loads(result.stdout)
    folder, builtin = runs["fm-png"], runs["fashion-mnist"]
    assert folder["test_count"] == builtin["test_count"] == 200
    assert folder["top1_pct"] == builtin["top1_pct"] and folder["test_loss"] == builtin["test_loss"]

    # The checkpoint records the folders' class names and the dataset's stats; zoo predict prints the names.
    checkpoint = Path(folder["checkpoint"])
    sidecar = json.loads((checkpoint / "checkpoint.json").read_text())
    assert sidecar["classes"] == list(CLASS_FOLDERS) and sidecar["dataset"] == "fm-png"
    assert sidecar["preprocessing"]["mean"] == [0.286] and sidecar["preprocessing"]["std"] == [0.353]
    images = sorted((root / "test").glob("*/*.png"))[:3]
    predict = _zoo(zoo_exe, env, "predict", str(checkpoint), *map(str, images), "--top", "2", "--format", "json")
    assert predict.returncode == 0, predict.stderr
    predicted = [p["class"] for row in json.loads(predict.stdout) for p in row["predictions"]]
    assert len(predicted) == 6 and set(predicted) <= set(CLASS_FOLDERS)
    # zoo evaluate finds the dataset by the name the checkpoint recorded and scores the same.
    evaluate = _zoo(zoo_exe, env, "evaluate", str(checkpoint), "--format", "json")
    assert evaluate.returncode == 0, evaluate.stderr
    assert json.loads(evaluate.stdout)["top1_pct"] == folder["top1_pct"]


@pytest.mark.slow
def test_a_path_is_a_dataset_and_a_changed_folder_is_not_reused(
    zoo_exe: Path, env: dict[str, str], tmp_path: Path
) -> None:
    images, labels = fashion("train", 160)
    write_classes(tmp_path / "photos", images, labels)  # one set of class folders: split 0.2 per class
    trained = _zoo(zoo_exe, env, "train", "lenet5-torch", "--dataset", "./photos", *ONE_EPOCH, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["dataset"] == str(tmp_path / "photos") and summary["test_count"] == 32
    # zoo compare on the same folder (named another way) reuses that run: same files, same recipe.
    recipe = ["--epochs", "1", "--batch-size", "32", "--augment", "none", "--seeds", "0", "--bench-steps", "2",
              "--bench-warmup", "1", "-f", "json"]
    reused = _zoo(zoo_exe, env, "compare", "lenet5-torch", "--dataset", str(tmp_path / "photos"), *recipe)
    assert reused.returncode == 0, reused.stderr
    assert json.loads(reused.stdout)["rows"][0]["source"] == f"reused run {summary['run_id']}"
    # Another image in the folder: other data, so the stored run is not reused.
    write_classes(tmp_path / "photos", *fashion("train", 1, start=1000), first_index=1000)
    changed = _zoo(zoo_exe, env, "compare", "lenet5-torch", "--dataset", str(tmp_path / "photos"), *recipe)
    assert changed.returncode == 0, changed.stderr
    row = json.loads(changed.stdout)["rows"][0]
    assert row["status"] == "ok" and row["source"].startswith("measured run "), row
    runs = json.loads(_zoo(zoo_exe, env, "runs", "list", "--format", "json").stdout)
    assert {r["dataset"] for r in runs} == {str(tmp_path / "photos")} and len(runs) == 2
