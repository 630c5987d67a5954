"""A converted checkpoint is a run: ``zoo convert`` records it, ``zoo runs`` lists it, ``zoo compare``
reuses it for the twin, ``zoo train --resume RUN --epochs N`` trains it on in the other framework;
and the converted Keras checkpoint exports to ONNX on Keras' PyTorch backend.

One real lenet5-torch run (Fashion-MNIST, 256 images, one epoch), converted to Keras once, serves
every test of the module, in order: compare and export run before the resume (a run trained on is
no longer what its recipe alone trains, so compare must not take it afterwards).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoo.api.errors import EXIT_USAGE

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RECIPE = {"epochs": 1, "limit": 256, "limit_test": 200, "batch_size": 64, "augment": "none", "scheduler": "none"}
TOLERANCE = 1e-4
ONNX_IMAGES = 256


@pytest.fixture(scope="module")
def home(module_tmp, dataset_cache: Path) -> Iterator[dict[str, str]]:
    """A private zoo home (also for the zoo subprocesses); the session's parsed-dataset cache."""
    env = {"ZOO_HOME": str(module_tmp("converted-runs-home")), "ZOO_CACHE_DIR": str(dataset_cache)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env


@pytest.fixture(scope="module")
def source(home: dict[str, str]):
    """A real recorded lenet5-torch run."""
    from zoo.run.training import train

    return train("lenet5-torch", "fashion-mnist", overrides={**RECIPE, "device": "cpu"})


@pytest.fixture(scope="module")
def converted(source):
    """The run's checkpoint converted to Keras (TensorFlow) and recorded as a run."""
    from zoo.run.convert import convert_checkpoint

    return convert_checkpoint(source.checkpoint.directory, to="keras", check_images=64)


def _store():
    from zoo.run.store import RunStore

    return RunStore()


def test_a_conversion_is_recorded_as_a_finished_run_of_the_twin(source, converted) -> None:
    record = _store().get(converted.run_id)
    origin = record.converted_from
    assert (record.status, record.model, record.backend, record.dataset) == (
        "finished", "lenet5-keras", "keras", "fashion-mnist")
    assert record.recipe == source.config.recipe() and record.output_dir == str(converted.target.directory)
    assert origin["run_id"] == source.run_id and origin["backend"] == "torch" and origin["epochs"] == 1
    assert origin["path"] == str(source.checkpoint.directory.resolve())
    assert record.origin == f"converted from torch run {source.run_id}"
    # Its epochs keep the source's losses and accuracies, not its timings: no training happened here.
    assert [e["epoch"] for e in record.epochs] == [1]
    assert record.epochs[0]["train_loss"] == pytest.approx(source.history[0].train_loss)
    assert record.epochs[0]["images_per_sec"] is None and record.epochs[0]["seconds"] is None
    assert record.metrics["top1"] == pytest.approx(source.test.top1)
    assert "train_seconds" not in record.metrics and "train_steady_samples_per_sec" not in record.metrics
    assert record.metrics["conversion_top1_agreement"] == 1.0
    # The checkpoint's sidecar names the run it is and the run it came from.
    sidecar = json.loads((converted.target.directory / "checkpoint.json").read_text())
    assert sidecar["run_id"] == converted.run_id and sidecar["converted_from"]["run_id"] == source.run_id
    assert converted.target.metadata["run_id"] == converted.run_id


def test_zoo_runs_lists_where_it_came_from(source, converted, home, run_zoo) -> None:
    listed = run_zoo("runs", "list", "-f", "json", env=home)
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows[converted.run_id]["origin"] == f"converted from torch run {source.run_id}"
    assert rows[converted.run_id]["status"] == "finished" and rows[source.run_id]["origin"] == ""
    table = run_zoo("runs", "list", env=home)
    assert "from" in table.stdout and f"converted from torch run {source.run_id}" in table.stdout
    shown = run_zoo("runs", "show", str(converted.run_id), env=home)
    assert f"converted from torch run {source.run_id}" in shown.stdout


def test_compare_reuses_the_converted_run_for_the_twin(source, converted) -> None:
    """zoo compare's worker and row code, in this process (Keras is imported here already)."""
    from zoo.grid.jobs import TRAIN, Job, Timing
    from zoo.grid.rows import aggregate
    from zoo.grid.worker import run_train_job

    job = Job(kind=TRAIN, model="lenet5-keras", settings={**RECIPE, "seed": 0, "device": "cpu"},
              dataset="fashion-mnist", timing=Timing(steps=2, warmup=0))
    result = run_train_job(job)
    assert (result.status, result.source, result.run_id) == ("ok", "converted", converted.run_id), result.reason
    row = aggregate("lenet5-keras", "keras", "", [result])
    assert row["source"] == f"converted run {converted.run_id} (from torch run {source.run_id})"
    assert row["top1_pct"] == round(100 * source.test.top1, 2)
    # No training happened: the training figures are empty, not the source's; the bare step is timed now.
    assert row["train_steady_samples_per_sec"] is None and row["loop_efficiency"] is None
    assert row["train_s"] is None and row["compile_s"] is None
    assert row["train_bare_samples_per_sec"] > 0 and row["throughput_source"] == "measured"


def test_keras_on_torch_exports_the_converted_checkpoint_to_onnx(converted, home, tmp_path: Path) -> None:
    """Keras binds its backend when imported: Keras on PyTorch runs in a process of its own. The export
    publishes only a graph whose top-1 equals the checkpoint's; the logits agree within 1e-4."""
    script = textwrap.dedent(f"""
        import json
        from zoo.run.onnx_export import export_checkpoint
        from zoo_keras.runtime import keras
        result = export_checkpoint({str(converted.target.directory)!r}, output={str(tmp_path / "m.onnx")!r},
                                   check_images={ONNX_IMAGES})
        print(json.dumps({{"backend": keras.backend.backend(), **result.parity.to_dict()}}))
    """)
    env = {**os.environ, **home, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["backend"] == "torch" and figures["images"] == ONNX_IMAGES
    assert figures["top1_agreement"] == 1.0 and figures["max_abs_logit_diff"] < TOLERANCE, figures
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_a_converted_keras_run_converts_back_and_trains_on_in_torch(converted, tmp_path: Path) -> None:
    """The other direction: the Keras run converted to torch is a run converted from it, and trains on in torch."""
    from zoo.run.convert import convert_checkpoint
    from zoo.run.resuming import resume_training

    back = convert_checkpoint(converted.target.directory, to="torch", output=tmp_path / "back", check_images=32)
    record = _store().get(back.run_id)
    assert record.model == "lenet5-torch" and record.origin == f"converted from keras run {converted.run_id}"
    result = resume_training(str(back.run_id), overrides={"epochs": 2, "device": "cpu"})
    assert [m.epoch for m in result.history] == [2] and result.checkpoint.directory == tmp_path / "back"
    assert [e["epoch"] for e in _store().get(back.run_id).epochs] == [1, 2]


def test_train_resume_trains_the_converted_run_on_in_keras(source, converted, home, run_zoo) -> None:
    """The refusals through the command line (one line, exit 2); the training itself through the library
    in this process (Keras is imported here already: a second process would import it again)."""
    from zoo.run.checkpoint import load_checkpoint, read_checkpoint
    from zoo.run.resuming import resume_training

    refused = run_zoo("train", "--resume", str(converted.run_id), env=home)
    assert refused.returncode == EXIT_USAGE and "pass --epochs N above 1" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    changed = run_zoo("train", "--resume", str(converted.run_id), "--epochs", "2", "--lr", "0.1", env=home)
    assert changed.returncode == EXIT_USAGE and "drop --lr" in changed.stderr
    before = converted.target.metadata["weights_sha256"]

    result = resume_training(str(converted.run_id), overrides={"epochs": 2, "device": "cpu"})
    assert result.run_id == converted.run_id and result.model == "lenet5-keras"
    assert [m.epoch for m in result.history] == [2] and "fresh optimizer state" in result.note
    record = _store().get(converted.run_id)
    assert record.status == "finished" and record.recipe["epochs"] == 2
    assert [e["epoch"] for e in record.epochs] == [1, 2]
    assert record.epochs[1]["images_per_sec"] > 0  # trained here, on Keras
    assert record.fit_details["continuation"]["epochs_before"] == 1 and record.converted_from["run_id"] == source.run_id
    assert record.fit_details["keras_backend"] == "tensorflow" and record.reuse_key.startswith("continued-")
    # A valid checkpoint of the trained-on model: new weights, still saying where they came from.
    checkpoint = read_checkpoint(record.output_dir)
    assert checkpoint.metadata["weights_sha256"] != before and checkpoint.metadata["recipe"]["epochs"] == 2
    assert checkpoint.metadata["converted_from"]["run_id"] == source.run_id
    assert checkpoint.metadata["run_id"] == converted.run_id and load_checkpoint(checkpoint)[1].name == "lenet5-keras"
    assert [(a["path"], a["sha256"]) for a in record.artifacts] == [
        (str(checkpoint.weights), checkpoint.metadata["weights_sha256"])]
    again = run_zoo("train", "--resume", str(converted.run_id), "--epochs", "2", env=home)
    assert again.returncode == EXIT_USAGE and "above 2" in again.stderr
