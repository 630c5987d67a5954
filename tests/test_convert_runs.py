"""A converted checkpoint is a run: ``zoo convert`` records it, ``zoo runs`` lists it, ``zoo compare``
reuses it for the twin, ``zoo train --resume RUN --epochs N`` trains it on in the other framework.

One real lenet5-torch run (Fashion-MNIST, 256 images, one epoch), converted to Keras once, serves
every test of the module, in order: the compare runs before the resume (a run trained on is no
longer what its recipe alone trains, so compare must not take it afterwards).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoo.api.errors import EXIT_USAGE

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RECIPE = {"epochs": 1, "limit": 256, "limit_test": 200, "batch_size": 64, "augment": "none", "scheduler": "none"}
FLAGS = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "256", "--limit-test", "200", "--batch-size",
         "64", "--augment", "none", "--scheduler", "none", "--device", "cpu"]


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


def test_compare_reuses_the_converted_run_for_the_twin(source, converted, home, run_zoo) -> None:
    done = run_zoo("compare", "lenet5-keras", *FLAGS, "--bench-steps", "2", "--bench-warmup", "0", "-f", "json",
                   env=home)
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(done.stdout)["rows"][0]
    assert row["status"] == "ok", row
    assert row["source"] == f"converted run {converted.run_id} (from torch run {source.run_id})"
    assert row["run_ids"] == [converted.run_id] and row["top1_pct"] == round(100 * source.test.top1, 2)
    # No training happened: the training figures are empty, not the source's.
    assert row["train_steady_samples_per_sec"] is None and row["loop_efficiency"] is None
    assert row["train_s"] is None and row["compile_s"] is None
    assert "training" not in done.stderr.split("reusing stored run")[0][-200:]


def test_train_resume_trains_the_converted_run_on_in_keras(source, converted, home, run_zoo) -> None:
    from zoo.run.checkpoint import load_checkpoint, read_checkpoint

    refused = run_zoo("train", "--resume", str(converted.run_id), env=home)
    assert refused.returncode == EXIT_USAGE and "--epochs" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    before = converted.target.metadata["weights_sha256"]
    done = run_zoo("train", "--resume", str(converted.run_id), "--epochs", "2", "--device", "cpu", "-f", "json",
                   env=home)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["run_id"] == converted.run_id and summary["model"] == "lenet5-keras" and summary["epochs"] == 2
    assert "fresh optimizer state" in summary["note"]

    record = _store().get(converted.run_id)
    assert record.status == "finished" and record.recipe["epochs"] == 2
    assert [e["epoch"] for e in record.epochs] == [1, 2]
    assert record.epochs[1]["images_per_sec"] > 0  # trained here, on Keras
    assert record.fit_details["continuation"]["epochs_before"] == 1 and record.converted_from["run_id"] == source.run_id
    assert not record.reuse_key.startswith(_store().get(source.run_id).reuse_key)
    # A valid checkpoint of the trained-on model: new weights, still saying where they came from.
    checkpoint = read_checkpoint(record.output_dir)
    assert checkpoint.metadata["weights_sha256"] != before and checkpoint.metadata["recipe"]["epochs"] == 2
    assert checkpoint.metadata["converted_from"]["run_id"] == source.run_id
    assert load_checkpoint(checkpoint)[1].name == "lenet5-keras"
    assert os.path.isfile(record.artifacts[0]["path"]) and record.artifacts[0]["sha256"] == checkpoint.metadata[
        "weights_sha256"]
    again = run_zoo("train", "--resume", str(converted.run_id), "--epochs", "2", env=home)
    assert again.returncode == EXIT_USAGE and "above 2" in again.stderr
