"""zoo compare end to end: real training of Keras and PyTorch models (first-party and the
example plugin's LeNet-5), reuse of stored runs, a failing row, concurrent runs."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, MakeDir, pip_install_target

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
pytestmark = pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (make setup)")

RECIPE = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "400", "--limit-test", "200",
          "--batch-size", "50", "--bench-steps", "2", "--bench-warmup", "1"]
PATTERNS = ["lenet5-*", "alexnet-*-bn"]  # issue 7: the example plugin takes part next to the first-party models
MODELS = {"alexnet-keras-bn", "alexnet-torch-bn", "lenet5-keras", "lenet5-torch"}
NUMERIC = ["param_count", "gmacs", "top1_pct", "top5_pct", "train_bare_samples_per_sec", "infer_samples_per_sec",
           "batch_size", "wall_s", "wall_bench_s"]
# Backends that report a steady-state figure here (zoo-keras' arrive with issue 24's Keras half).
STEADY = {"alexnet-torch-bn", "lenet5-torch"}
SPEED = ["train_steady_samples_per_sec", "train_bare_samples_per_sec", "loop_efficiency", "compile_s"]


@pytest.fixture(scope="module")
def compare_env(module_tmp: MakeDir, dataset_cache: Path) -> dict[str, str]:
    """A private zoo home, the shared dataset cache, and a real plugin whose model cannot be built."""
    site = module_tmp("failing-site")
    pip_install_target(REPO / "tests" / "plugin_packages" / "zoo-failing-model", site)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.update(ZOO_HOME=str(module_tmp("compare-home")), ZOO_CACHE_DIR=str(dataset_cache),
               PYTHONPATH=str(site), COLUMNS="250", TF_CPP_MIN_LOG_LEVEL="2")
    return env


def _zoo(zoo_exe: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(zoo_exe), *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def first(zoo_exe: Path, compare_env: dict[str, str], module_tmp: MakeDir) -> dict:
    plot = module_tmp("plots") / "compare.png"
    result = _zoo(zoo_exe, compare_env, "compare", *PATTERNS, "broken-torch", *RECIPE,
                  "--format", "json", "--plot", str(plot))
    return {"result": result, "report": json.loads(result.stdout or "{}"), "plot": plot}


@pytest.fixture(scope="module")
def again_as_csv(first, zoo_exe: Path, compare_env: dict[str, str]) -> subprocess.CompletedProcess:
    """The same compare a second time (it reuses the first's runs), as CSV."""
    return _zoo(zoo_exe, compare_env, "compare", *PATTERNS, *RECIPE, "--format", "csv")


def test_every_matching_model_gets_a_row_with_every_column(first) -> None:
    assert first["result"].returncode == 0, first["result"].stderr
    rows = {row["model"]: row for row in first["report"]["rows"]}
    assert set(rows) == {*MODELS, "broken-torch"}
    for name in MODELS:
        row = rows[name]
        assert row["status"] == "ok", row
        for column in NUMERIC:
            assert isinstance(row[column], (int, float)) and row[column] > 0, (name, column, row[column])
        assert 0 < row["top1_pct"] <= row["top5_pct"] <= 100
        assert row["batch_size"] == 50 and row["precision"] == "fp32"
        assert row["source"].startswith("measured run ")
        assert "train_samples_per_sec" not in row  # the bare step's figure is no longer offered as training speed
    for name in ("alexnet-keras-bn", "alexnet-torch-bn"):  # millions; the same network in both backends
        assert rows[name]["param_count"] == pytest.approx(24.747402, abs=0.001)  # 256x2x2 features into fc1
        assert rows[name]["input_size"] == "1x56x56"  # their recipe resizes 28 px images to 56
    assert rows["lenet5-torch"]["param_count"] == rows["lenet5-keras"]["param_count"]
    # One worker process per backend, reused from model to model (zoo.pool); never two frameworks in one.
    torch_pids = {rows[name]["worker_pid"] for name in ("alexnet-torch-bn", "lenet5-torch")}
    keras_pids = {rows[name]["worker_pid"] for name in ("alexnet-keras-bn", "lenet5-keras")}
    assert len(torch_pids) == len(keras_pids) == 1 and torch_pids != keras_pids
    assert rows["alexnet-keras-bn"]["backend"].startswith("keras (")  # the Keras backend in use is shown


def _run(zoo_exe: Path, env: dict[str, str], source: str) -> dict:
    shown = _zoo(zoo_exe, env, "runs", "show", source.split()[-1], "-f", "json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_speed_columns_agree_with_each_other_and_with_the_run_record(
    first, zoo_exe: Path, compare_env: dict[str, str]
) -> None:
    """Steady-state training img/s (warm-up left out), the bare step's img/s, their ratio and the compile
    seconds: one row's figures are consistent, and they are the run record's."""
    rows = {row["model"]: row for row in first["report"]["rows"]}
    for name in STEADY:
        row = rows[name]
        for column in SPEED:
            assert isinstance(row[column], float) and row[column] > 0, (name, column, row[column])
        steady, bare = row["train_steady_samples_per_sec"], row["train_bare_samples_per_sec"]
        rounding = 0.05 / bare * (1 + steady / bare) + 5e-4  # both rates are rounded to 0.1 img/s, the ratio to 0.001
        assert row["loop_efficiency"] == pytest.approx(steady / bare, abs=rounding)
        assert row["execution"] == "eager"  # a CPU run: CUDA graphs need a GPU
        record = _run(zoo_exe, compare_env, row["source"])
        metrics = record["metrics"]
        assert record["execution"] == "eager"
        assert metrics["train_steady_samples_per_sec"] == pytest.approx(row["train_steady_samples_per_sec"], abs=0.05)
        assert metrics["train_bare_samples_per_sec"] == pytest.approx(row["train_bare_samples_per_sec"], abs=0.05)
        assert metrics["compile_seconds"] == pytest.approx(row["compile_s"], abs=0.005)
        (epoch,) = record["epochs"]  # one epoch of 8 steps (360 images, batch 50): 3 of warm-up, 5 steady
        assert epoch["warmup_steps"] == 3 and epoch["warmup_seconds"] == pytest.approx(metrics["compile_seconds"])
        assert epoch["steady_images_per_sec"] == pytest.approx(metrics["train_steady_samples_per_sec"])
        assert "train_samples_per_sec" not in metrics  # stored under the name that says what it is


def test_wall_time_splits_into_named_phases(first) -> None:
    for row in first["report"]["rows"]:
        phases = [row[f"wall_{phase}_s"] for phase in ("start", "data", "compile", "train", "eval", "bench", "other")]
        assert all(value >= 0 for value in phases) and row["wall_s"] >= 0
        assert sum(phases) == pytest.approx(row["wall_s"], abs=0.1)  # each rounded to 0.01, the total to 0.1
        if row["status"] == "ok":
            assert row["wall_s"] > 0 and row["wall_compile_s"] + row["wall_train_s"] > 0 and row["wall_bench_s"] > 0
            # A run too short for a steady-state figure spent all its training steps warming up.
            assert row["wall_train_s"] > 0 or row["train_steady_samples_per_sec"] is None, row
            assert row["wall_data_s"] >= 0 and row["wall_eval_s"] > 0
    # Starting a worker (interpreter, framework, plugins) is paid by the first model each worker serves;
    # the next model of the same backend reuses the process and starts in milliseconds.
    started: dict[int, float] = {}
    for row in first["report"]["rows"]:
        if row["status"] == "ok":
            started[row["worker_pid"]] = max(started.get(row["worker_pid"], 0.0), row["wall_start_s"])
    assert len(started) == 2 and all(seconds > 0.5 for seconds in started.values()), started


def test_table_csv_and_json_show_the_same_speed_figures_within_100_columns(
    first, again_as_csv, zoo_exe: Path, compare_env: dict[str, str]
) -> None:
    """A second compare reuses the runs: its CSV, its terminal tables (accuracy, speed, --timings) and the
    first JSON agree; every table line fits in 100 columns."""
    before = {row["model"]: row for row in first["report"]["rows"]}
    assert again_as_csv.returncode == 0, again_as_csv.stderr
    rows = {row["model"]: row for row in csv.DictReader(io.StringIO(again_as_csv.stdout))}
    for name in STEADY:
        for column in [*SPEED, "execution"]:
            assert rows[name][column] == _cell(before[name][column]), (name, column)
    table = _zoo(zoo_exe, compare_env, "compare", *PATTERNS, *RECIPE, "--timings")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    tables = [line for line in lines if not line.startswith("dataset: ")]  # the conditions fill COLUMNS=250
    assert max(len(line) for line in tables) <= 100, max(tables, key=len)
    for header in ("top-1", "train", "bare", "loop", "compile", "infer", "img/s", "eff.", "bench", "start"):
        assert any(header in line for line in lines), header
    lenet = [line for line in lines if line.startswith("lenet5-torch ")]
    assert len(lenet) == 3  # accuracy, speed, wall seconds
    speed = lenet[1].split()
    assert speed[:5] == ["lenet5-torch", "eager", *(_cell(before["lenet5-torch"][c]) for c in SPEED[:3])]
    assert any(line.startswith("wall ") and "bench" in line for line in lines)


def _cell(value: object) -> str:
    from zoo.cli.report import _cell as cell

    return cell(value)


def test_a_bare_step_after_a_steady_figure_takes_fewer_steps(zoo_exe: Path, compare_env: dict[str, str]) -> None:
    result = _zoo(zoo_exe, compare_env, "compare", "lenet5-torch", "--dataset", "fashion-mnist", "--epochs", "1",
                  "--limit", "300", "--limit-test", "100", "--batch-size", "50", "--bench-steps", "25",
                  "--bench-warmup", "1", "-f", "json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["rows"]
    metrics = _run(zoo_exe, compare_env, row["source"])["metrics"]
    assert metrics["train_steady_samples_per_sec"] > 0 and metrics["train_bare_steps"] == 10  # not 25
    assert metrics["infer_samples_per_sec"] > 0


def test_a_model_that_fails_gets_a_failed_row_and_the_others_finish(first) -> None:
    rows = first["report"]["rows"]
    assert rows[-1]["model"] == "broken-torch"  # failures sort last
    assert rows[-1]["status"] == "failed"
    assert "this network's builder is broken" in rows[-1]["reason"]


def test_a_killed_worker_costs_its_row_and_the_next_model_gets_a_fresh_one(
    first, zoo_exe: Path, compare_env: dict[str, str]
) -> None:
    """killed-torch's builder SIGKILLs its worker (as the out-of-memory killer would); lenet5-torch runs next
    in a new worker (reusing the stored run from the first compare)."""
    result = _zoo(zoo_exe, compare_env, "compare", "killed-torch", "lenet5-torch", *RECIPE, "-f", "json")
    assert result.returncode == 0, result.stderr
    rows = {row["model"]: row for row in json.loads(result.stdout)["rows"]}
    assert rows["killed-torch"]["status"] == "failed"
    assert rows["killed-torch"]["reason"].startswith("worker killed (out of memory?)")
    assert rows["lenet5-torch"]["status"] == "ok" and rows["lenet5-torch"]["source"].startswith("reused run ")


def test_conditions_header_names_device_versions_and_recipe(first) -> None:
    conditions = first["report"]["conditions"]
    assert conditions["dataset"] == "fashion-mnist" and conditions["seeds"] == [0]
    assert {"torch", "keras"} <= set(conditions["versions"])
    assert conditions["device"] and conditions["zoo"] and conditions["batch_size"] == 50


def test_conditions_name_cpu_threads_but_not_next_to_a_gpu() -> None:
    from zoo.grid.jobs import JobResult
    from zoo.grid.rows import conditions_from

    cpu = JobResult("ok", environment={"device": "cpu", "device_name": "Intel Xeon", "threads": "2", "torch": "2.14.1"})
    gpu = JobResult("ok", environment={"device": "cuda:0 (NVIDIA H200)", "device_name": "NVIDIA H200",
                                       "threads": "16"})
    assert conditions_from([cpu])["device"] == "Intel Xeon (2 threads)"
    assert conditions_from([gpu])["device"] == "NVIDIA H200"
    assert conditions_from([cpu, gpu])["device"] == "Intel Xeon (2 threads), NVIDIA H200"


def test_bench_times_real_models_and_names_its_conditions(zoo_exe: Path, compare_env: dict[str, str]) -> None:
    """One torch model (Keras' benchmark is tested in test_keras_backend.py; a TensorFlow worker costs seconds)."""
    result = _zoo(zoo_exe, compare_env, "bench", "alexnet-torch-res", "--input", "1x28x28", "--batch-size", "4",
                  "--steps", "2", "--warmup", "1", "--format", "json")  # 10 classes by default
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["conditions"]["compile"] == "off" and report["conditions"]["precision"] == "fp32"
    from zoo.run.allocator import ZOO_SETTING, user_choice

    assert report["conditions"]["malloc"] == (user_choice() or ZOO_SETTING)  # the worker set glibc's thresholds
    (row,) = report["rows"]
    assert row["model"] == "alexnet-torch-res" and row["status"] == "ok"
    assert row["train_batch_size"] == row["infer_batch_size"] == 4 and row["infer_img_size"] == 28
    assert row["infer_samples_per_sec"] > row["train_samples_per_sec"] > 0
    assert row["param_count"] == 18.552 and row["note"] == ""  # 10 classes: the count docs/benchmarks.md lists


def test_a_bench_row_names_each_note_once() -> None:
    """Both modes carry the same compile-mode note; the row says it once, after any other."""
    from zoo.grid.jobs import JobResult
    from zoo.grid.rows import bench_row

    result = JobResult("ok", input_size=(1, 28, 28), precision="bf16", environment={"device_name": "NVIDIA H200"},
                       metrics={"macs": 2e7, "param_count": 1.5e6, "infer_samples_per_sec": 10.0,
                                "infer_step_time": 1.0, "infer_batch_size": 8,
                                "infer_note": "torch.compile mode reduce-overhead",
                                "train_note": "batch halved from 16 to 8 after CUDA out-of-memory; "
                                              "torch.compile mode reduce-overhead"})
    assert bench_row("m", result)["note"] == ("torch.compile mode reduce-overhead; batch halved from 16 to 8 "
                                              "after CUDA out-of-memory")


def test_plot_is_written(first) -> None:
    data = first["plot"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_second_compare_reuses_stored_runs(first, again_as_csv) -> None:
    result = again_as_csv
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" not in result.stderr  # nothing was trained again
    rows = {row["model"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    before = {row["model"]: row for row in first["report"]["rows"]}
    for name in MODELS:
        assert rows[name]["source"].startswith("reused run ")
        assert rows[name]["source"].split()[-1] == before[name]["source"].split()[-1]
        assert float(rows[name]["top1_pct"]) == pytest.approx(before[name]["top1_pct"], abs=0.01)


def test_markdown_output_to_a_file(first, zoo_exe: Path, compare_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "table.md"
    result = _zoo(zoo_exe, compare_env, "compare", "alexnet-torch-bn", *RECIPE, "-f", "markdown", "--output", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "| model |" in text and "alexnet-torch-bn" in text and "device:" in text
    assert "recipe: epochs 1, limit 400, limit-test 200" in text  # a reader sees it is not each model's own recipe


def test_recipe_options_reach_training_and_a_changed_one_trains_again(
    zoo_exe: Path, compare_env: dict[str, str]
) -> None:
    options = ["--augment", "shift", "--label-smoothing", "0.1", "--scheduler", "cosine", "--optimizer", "adamw",
               "--weight-decay", "0.01", "--image-size", "28"]
    first = _zoo(zoo_exe, compare_env, "compare", "alexnet-torch-bn", *RECIPE, *options, "-f", "json")
    assert first.returncode == 0, first.stderr
    row = json.loads(first.stdout)["rows"][0]
    assert row["status"] == "ok" and row["source"].startswith("measured run ")
    run_id = row["source"].split()[-1]
    recipe = json.loads(_zoo(zoo_exe, compare_env, "runs", "show", run_id, "-f", "json").stdout)["recipe"]
    assert (recipe["augment"], recipe["label_smoothing"], recipe["scheduler"], recipe["optimizer"],
            recipe["weight_decay"], recipe["image_size"]) == ("shift", 0.1, "cosine", "adamw", 0.01, 28)
    smoother = [*options[:3], "0.2", *options[4:]]
    second = _zoo(zoo_exe, compare_env, "compare", "alexnet-torch-bn", *RECIPE, *smoother, "-f", "json")
    assert second.returncode == 0, second.stderr
    source = json.loads(second.stdout)["rows"][0]["source"]
    assert source.startswith("measured run ") and source.split()[-1] != run_id  # not the 0.1 run reused


def test_a_bad_recipe_option_is_one_line_before_any_training(zoo_exe: Path, compare_env: dict[str, str]) -> None:
    result = _zoo(zoo_exe, compare_env, "compare", "alexnet-torch-bn", *RECIPE, "--augment", "wobble")
    assert result.returncode == 2
    assert "--augment must be one of none, crop-flip, shift, crop-flip-cutout, got 'wobble'" in result.stderr
    assert "epoch" not in result.stderr


def test_image_size_reaches_training_and_the_size_columns(zoo_exe: Path, compare_env: dict[str, str]) -> None:
    result = _zoo(zoo_exe, compare_env, "compare", "alexnet-torch-bn", "alexnet-torch", *RECIPE, "--image-size", "44",
                  "-f", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["model"]: row for row in report["rows"]}
    bn = rows["alexnet-torch-bn"]
    assert bn["status"] == "ok" and bn["input_size"] == "1x44x44" and bn["source"].startswith("measured run ")
    assert bn["param_count"] == pytest.approx(24.747402, abs=0.001)  # 256x2x2 features into fc1, not 256x1x1
    assert rows["alexnet-torch"]["status"] == "failed"  # its minimum is 67 px
    assert "--image-size 44 is below alexnet-torch's minimum input of 67x67" in rows["alexnet-torch"]["reason"]
    assert report["conditions"]["recipe_overrides"]["image_size"] == 44


def test_unknown_pattern_and_bad_seeds_are_usage_errors(zoo_exe: Path, compare_env: dict[str, str]) -> None:
    nothing = _zoo(zoo_exe, compare_env, "compare", "vgg-*", "--dataset", "fashion-mnist")
    assert nothing.returncode == 2 and "no model matches vgg-*" in nothing.stderr
    seeds = _zoo(zoo_exe, compare_env, "compare", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--seeds", "a")
    assert seeds.returncode == 2 and "--seeds must be" in seeds.stderr


def test_two_trainings_at_once_both_record_complete_runs(zoo_exe: Path, compare_env: dict[str, str]) -> None:
    args = ["train", "alexnet-torch-bn", "--dataset", "fashion-mnist", "--epochs", "2", "--limit", "200",
            "--limit-test", "100", "--batch-size", "50", "--image-size", "28", "--format", "json"]
    processes = [
        subprocess.Popen([str(zoo_exe), *args, "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=compare_env)
        for seed in (11, 12)
    ]
    run_ids = []
    for process in processes:
        out, err = process.communicate(timeout=900)
        assert process.returncode == 0, err
        run_ids.append(json.loads(out)["run_id"])
    listing = _zoo(zoo_exe, compare_env, "runs", "list", "--format", "json")
    runs = {run["id"]: run for run in json.loads(listing.stdout)}
    for run_id in run_ids:
        assert runs[run_id]["status"] == "finished"
        shown = json.loads(_zoo(zoo_exe, compare_env, "runs", "show", str(run_id), "-f", "json").stdout)
        assert [e["epoch"] for e in shown["epochs"]] == [1, 2]
        assert "top1" in shown["metrics"]
