"""zoo train / evaluate / predict through the installed executable, on real Fashion-MNIST."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MakeDir

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
pytestmark = pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)")

SMALL = ["--epochs", "1", "--limit", "600", "--limit-test", "300", "--batch-size", "50"]
IMAGE_SIZE = 44  # upscaled from 28: alexnet-bn's first dense layer then takes 256x2x2 features, not 256x1x1


@pytest.fixture
def env(dataset_cache: Path) -> dict[str, str]:
    return {"ZOO_CACHE_DIR": str(dataset_cache)}


@pytest.fixture(scope="module")
def trained(module_tmp: MakeDir, dataset_cache: Path, zoo_exe: Path) -> dict:
    """One short real training run of alexnet-torch-bn at 44x44 pixels, shared by the checks below."""
    import os

    home = module_tmp("train-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.update(ZOO_HOME=str(home), ZOO_CACHE_DIR=str(dataset_cache), COLUMNS="200")
    output = home / "ckpt"
    plot = home / "curves.png"
    result = subprocess.run(
        [str(zoo_exe), "train", "alexnet-torch-bn", "--dataset", "fashion-mnist", *SMALL, "--label-smoothing", "0.1",
         "--image-size", str(IMAGE_SIZE), "--output", str(output), "--plot", str(plot), "--format", "json"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return {"home": home, "env": env, "output": output, "plot": plot, "summary": json.loads(result.stdout),
            "stderr": result.stderr}


def test_train_reports_epochs_and_scores_the_whole_requested_test_split(trained) -> None:
    summary = trained["summary"]
    assert summary["model"] == "alexnet-torch-bn" and summary["dataset"] == "fashion-mnist"
    assert summary["test_count"] == 300
    assert 0.0 <= summary["top1_pct"] <= summary["top5_pct"] <= 100.0
    assert "epoch 1/1" in trained["stderr"] and "img/s" in trained["stderr"]


def test_train_writes_checkpoint_sidecar_and_curves(trained) -> None:
    sidecar = json.loads((trained["output"] / "checkpoint.json").read_text())
    assert sidecar["model"] == "alexnet-torch-bn"
    assert sidecar["classes"][0] == "T-shirt/top" and len(sidecar["classes"]) == 10
    assert sidecar["image_shape"] == [28, 28, 1]
    assert sidecar["recipe"]["optimizer"] == "adam" and sidecar["recipe"]["limit"] == 600
    assert sidecar["recipe"]["scheduler"] == "cosine"  # the variant's default recipe reached the run
    assert sidecar["recipe"]["label_smoothing"] == 0.1 == trained["summary"]["recipe"]["label_smoothing"]
    assert sidecar["recipe"]["image_size"] == IMAGE_SIZE
    assert sidecar["preprocessing"]["img_size"] == [IMAGE_SIZE, IMAGE_SIZE]
    assert (trained["output"] / sidecar["weights"]).stat().st_size > 1_000_000
    assert trained["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_image_size_builds_the_model_for_the_upscaled_input(trained) -> None:
    from safetensors import safe_open

    sidecar = json.loads((trained["output"] / "checkpoint.json").read_text())
    with safe_open(trained["output"] / sidecar["weights"], "np") as weights:
        shapes = [weights.get_slice(name).get_shape() for name in weights.keys()]  # noqa: SIM118 (not a dict)
    dense_inputs = {shape[1] for shape in shapes if len(shape) == 2}
    assert 256 * 2 * 2 in dense_inputs and 256 not in dense_inputs  # 28x28 would give 256x1x1


def test_train_records_a_finished_run(trained) -> None:
    with sqlite3.connect(trained["home"] / "runs.sqlite") as conn:
        status, model = conn.execute("SELECT status, model FROM runs WHERE id = ?",
                                     (trained["summary"]["run_id"],)).fetchone()
        epochs = conn.execute("SELECT count(*) FROM epochs WHERE run_id = ?", (trained["summary"]["run_id"],))
        assert (status, model) == ("finished", "alexnet-torch-bn")
        assert epochs.fetchone()[0] == 1


def test_evaluate_reproduces_the_training_score(trained, run_zoo) -> None:
    result = run_zoo("evaluate", str(trained["output"]), "--limit-test", "300", "--format", "json",
                     "--plot", str(trained["home"] / "confusion.png"), env=trained["env"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["top1_pct"] == pytest.approx(trained["summary"]["top1_pct"])
    assert sum(map(sum, report["confusion"])) == 300
    assert (trained["home"] / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_reads_image_files(trained, run_zoo, tmp_path: Path) -> None:
    from PIL import Image

    from zoo.data import load_dataset

    images = load_dataset("fashion-mnist", data_dir=None).test.images[:2]
    paths = []
    for index, image in enumerate(images):
        path = tmp_path / f"item{index}.png"
        Image.fromarray(np.asarray(image)[:, :, 0]).convert("RGB").save(path)  # RGB: converted back to L
        paths.append(str(path))
    result = run_zoo("predict", str(trained["output"]), *paths, "--top", "2", "-f", "json", env=trained["env"])
    assert result.returncode == 0, result.stderr
    predictions = json.loads(result.stdout)
    assert [p["image"] for p in predictions] == paths
    for item in predictions:
        probs = [p["probability"] for p in item["predictions"]]
        assert len(probs) == 2 and probs[0] >= probs[1] and 0 <= sum(probs) <= 1.0001


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "alexnet-torch-bn", "--dataset", "imagenet-22k"], "unknown dataset 'imagenet-22k'"),
        (["train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--epochs", "-1"], "--epochs must be"),
        (["train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--batch-size", "0"], "--batch-size must be"),
        (["train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--optimizer", "adamm"], "--optimizer must be"),
        (["train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--device", "tpu"], "--device must be"),
        (["train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--label-smoothing", "1"],
         "--label-smoothing must be in [0, 1)"),
        (["train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--image-size", "0"],
         "--image-size must be a whole number of at least 1"),
        (["train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--min-image-size", "-56"],
         "--min-image-size must be a whole number of at least 1"),
        (["train", "alexnet-torch", "--dataset", "fashion-mnist", "--image-size", "32"],
         "--image-size 32 is below alexnet-torch's minimum input of 67x67 pixels; pass --image-size 67 or more"),
        (["train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--compile-mode", "fast"],
         "--compile-mode must be one of default, reduce-overhead, max-autotune, max-autotune-no-cudagraphs"),
        (["bench", "alexnet-torch-bn", "--compile-mode", "fast"], "--compile-mode must be one of"),
    ],
)
def test_bad_training_requests_fail_before_any_work(run_zoo, env, args, message) -> None:
    result = run_zoo(*args, env=env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_output_fails_before_training(run_zoo, env, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("a file where a directory should be")  # chmod would not stop root; this does
    result = run_zoo("train", "alexnet-torch-bn", "--dataset", "fashion-mnist", *SMALL,
                     "--output", str(not_a_dir / "out"), env=env)
    assert result.returncode == 1
    assert "cannot write to output directory" in result.stderr
    assert "epoch" not in result.stderr


def test_missing_and_corrupt_checkpoints_are_one_line_errors(trained, run_zoo, tmp_path: Path) -> None:
    missing = run_zoo("evaluate", str(tmp_path / "nope"), env=trained["env"])
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for item in trained["output"].iterdir():
        if item.is_file():  # the checkpoint itself, not the training states beside it
            (damaged / item.name).write_bytes(item.read_bytes())
    weights = damaged / json.loads((damaged / "checkpoint.json").read_text())["weights"]
    weights.write_bytes(weights.read_bytes()[:1000])
    result = run_zoo("predict", str(damaged), str(trained["plot"]), env=trained["env"])
    assert result.returncode == 1
    assert "corrupt or truncated" in result.stderr and "Traceback" not in result.stderr
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    bad = run_zoo("predict", str(trained["output"]), str(not_image), env=trained["env"])
    assert bad.returncode == 2 and "is not an image" in bad.stderr
