"""What a newcomer reads (issue 31): every table of the CLI at 100 and 80 columns with no header and no
model name cut, one unit per quantity, exit code 2 for every user error the README promises it for,
readable help pages, and zoo bench's spread. Real CLI processes on real Fashion-MNIST (one tiny run)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ZOO_EXE, MakeDir
from zoo.cli.compare import HEADERS, SPEED_HEADERS
from zoo.grid.columns import BENCH_TABLE_COLUMNS, COMPARE_SPEED_COLUMNS, COMPARE_TABLE_COLUMNS, WALL_COLUMNS

WIDTHS = (100, 80)
TRAIN = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "200", "--limit-test", "100", "--batch-size", "50"]
# The longest first-party names, and a -bn model whose recipe trains at 56 px rather than its native 28.
COMPARED = ("lenet5-torch", "alexnet-torch-bn")
BENCHED = ("lenet5-torch", "alexnet-torch-small")


def zoo(env: dict[str, str], *args: str, columns: int = 200) -> subprocess.CompletedProcess:
    return subprocess.run([str(ZOO_EXE), *args], capture_output=True, text=True, timeout=600,
                          env={**env, "COLUMNS": str(columns)})


@pytest.fixture(scope="module")
def env(module_tmp: MakeDir, dataset_cache: Path) -> dict[str, str]:
    home = module_tmp("output-home")
    return {**{k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}, "ZOO_HOME": str(home),
            "ZOO_CACHE_DIR": str(dataset_cache), "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def trained(env: dict[str, str]) -> dict:
    """One real one-epoch run of lenet5-torch on 200 Fashion-MNIST images."""
    result = zoo(env, "train", "lenet5-torch", *TRAIN, "--format", "json")
    assert result.returncode == 0, result.stderr
    return {"summary": json.loads(result.stdout), "stderr": result.stderr}


def words(headers: Sequence[str]) -> set[str]:
    return {word for header in headers for word in header.split()}


def assert_fits(result: subprocess.CompletedProcess, width: int, headers: Sequence[str], names: Sequence[str]) -> None:
    """Every line within ``width``; every word of every header and every name whole, on some line."""
    assert result.returncode == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert max(map(len, lines)) <= width, max(lines, key=len)
    tokens = {token for line in lines for token in line.split()}
    for word in words(headers):
        assert word in tokens, f"header word {word!r} cut at {width} columns:\n{result.stdout}"
    for name in names:
        assert name in tokens, f"name {name!r} cut at {width} columns:\n{result.stdout}"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_tables_of_list_data_plugins_and_info_fit(env, width: int) -> None:
    everything = json.loads(zoo(env, "list", "--format", "json").stdout)
    assert len(everything) > 1000  # with zoo-timm's architectures: printed as plain columns, names whole
    plain = zoo(env, "list", columns=width)
    assert_fits(plain, width, ["name", "backend", "input (CxHxW)"], [m["name"] for m in everything])
    assert width == 100 or "(left out at 80 columns: plugin, summary; --format json has them)" in plain.stdout
    models = json.loads(zoo(env, "list", "alexnet-*", "lenet5-*", "--format", "json").stdout)
    listed = zoo(env, "list", "alexnet-*", "lenet5-*", columns=width)
    assert_fits(listed, width, ["name", "backend", "input (CxHxW)", "plugin", "summary"], [m["name"] for m in models])
    lines = listed.stdout.splitlines()
    rows = [line for line in lines[next(i for i, line in enumerate(lines) if line.startswith("─")) + 1:] if line]
    assert len(rows) <= (2 if width == 100 else 4) * len(models)  # a summary takes at most two lines at 100
    datasets = json.loads(zoo(env, "data", "list", "--format", "json").stdout)
    assert_fits(zoo(env, "data", "list", columns=width), width,
                ["name", "classes", "input (CxHxW)", "augment", "cached", "plugin", "summary"],
                [d["name"] for d in datasets])
    plugins = zoo(env, "plugins", columns=width)
    assert_fits(plugins, width, ["plugin", "distribution", "hooks", "contributed"], ["torch", "keras", "lenet"])
    assert "1 backend:" in plugins.stdout and "backends:" not in plugins.stdout.replace("1 backend:", "")
    info = zoo(env, "info", "alexnet-torch-small", "--input", "3x32x32", columns=width)
    assert_fits(info, width, ["name", "kind", "output (CxHxW)", "params"], ["alexnet-torch-small", "fc1"])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_tables_of_runs_evaluate_and_predict_fit(env, trained, tmp_path: Path, width: int) -> None:
    summary = trained["summary"]
    assert_fits(zoo(env, "data", "info", "fashion-mnist", columns=width), width, ["label", "class", "train", "test"],
                ["fashion-mnist", "T-shirt/top", "1x28x28"])
    assert_fits(zoo(env, "runs", "list", columns=width), width,
                ["id", "model", "dataset", "status", "top-1 %", "epochs", "started (UTC)", "duration"],
                ["lenet5-torch", "fashion-mnist"])
    assert_fits(zoo(env, "runs", "show", str(summary["run_id"]), columns=width), width,
                ["epoch", "loss", "acc %", "val loss", "val acc %", "img/s", "epoch s", "warm-up steps",
                 "steady img/s"],
                ["lenet5-torch"])
    plot = tmp_path / "confusion.png"
    evaluated = zoo(env, "evaluate", summary["checkpoint"], "--limit-test", "100", "--plot", str(plot), columns=width)
    assert_fits(evaluated, width, ["label", "class", "top-1 %", "images", "true", *map(str, range(10))],
                ["T-shirt/top", "Ankle"])
    assert plot.is_file() and f"confusion matrix written to {plot}" in " ".join(evaluated.stderr.split())
    matrix = evaluated.stdout[evaluated.stdout.index("confusion matrix"):].splitlines()
    assert [line.split()[0] for line in matrix if line[:1].isdigit()] == [str(i) for i in range(10)]  # as columns
    image = tmp_path / "inverted.png"
    from PIL import Image

    from zoo.data import load_dataset

    Image.fromarray(255 - np.asarray(load_dataset("fashion-mnist").test.images[0])[:, :, 0]).save(image)
    predicted = zoo(env, "predict", summary["checkpoint"], str(image), columns=width)
    assert_fits(predicted, width, ["image", "rank", "class", "probability %"], ["1", "2", "3"])
    assert str(image) in "".join(line.split()[0] for line in predicted.stdout.splitlines() if line.strip())
    said = " ".join(predicted.stderr.split())  # what the checkpoint expects, and a hint for a white page
    assert "expects grey 28x28 images" in said and "mostly dark" in said
    assert "hint:" in said and "invert it" in said


@pytest.fixture(scope="module")
def evaluated(env: dict[str, str], trained: dict) -> dict:
    result = zoo(env, "evaluate", trained["summary"]["checkpoint"], "--limit-test", "100", "-f", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def compared(env: dict[str, str]) -> dict[int, subprocess.CompletedProcess]:
    """zoo compare trained once, then drawn at each width from the stored runs."""
    recipe = [*TRAIN[:-2], "--batch-size", "25", "--bench-steps", "2", "--bench-warmup", "0"]
    return {width: zoo(env, "compare", *COMPARED, *recipe, "--timings", columns=width) for width in WIDTHS}


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_tables_fit_and_say_the_size_each_model_trained_at(compared, width: int) -> None:
    result = compared[width]
    headers = [HEADERS.get(c, c) for c in COMPARE_TABLE_COLUMNS if c != "status"]
    headers += [SPEED_HEADERS.get(c, c) for c in COMPARE_SPEED_COLUMNS]
    headers += [HEADERS.get(c, c) for c in WALL_COLUMNS]
    assert_fits(result, width, headers, COMPARED)
    bn = next(line for line in result.stdout.splitlines() if line.startswith("alexnet-torch-bn "))
    assert "1x56x56*" in bn.split()  # the recipe's 56 px, marked
    note = " ".join(result.stdout.split())
    assert "alexnet-torch-bn 1x28x28" in note and "params and GMACs are at the size trained" in note
    assert "lenet5-torch seed 0: training (no finished run in the store matches)" in compared[100].stderr
    assert re.search(r"lenet5-torch seed 0: reusing stored run \d+", compared[80].stderr)


@pytest.fixture(scope="module")
def benched(env: dict[str, str]) -> dict[str, subprocess.CompletedProcess]:
    args = ["bench", *BENCHED, "--steps", "3", "--warmup", "1", "--batch-size", "8"]
    runs = {str(width): zoo(env, *args, columns=width) for width in WIDTHS}
    runs["json"] = zoo(env, *args, "--format", "json")
    return runs


@pytest.mark.parametrize("width", WIDTHS)
def test_bench_table_fits(benched, width: int) -> None:
    headers = [HEADERS.get(c, c) for c in BENCH_TABLE_COLUMNS if c != "status"]
    assert_fits(benched[str(width)], width, headers, BENCHED)
    assert "10 classes, 3 timed steps after 1 warm-up" in " ".join(benched[str(width)].stdout.split())


def test_bench_reports_the_spread_over_its_steps_and_warns_when_they_are_few(env, benched) -> None:
    result = benched["json"]
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["conditions"]["num_classes"] == 10
    for row in report["rows"]:
        for mode in ("infer", "train"):
            low, median, high = (row[f"{mode}_samples_per_sec{s}"] for s in ("_min", "", "_max"))
            assert 0 < low <= median <= high, row
            assert row[f"{mode}_iqr_pct"] >= 0
    assert "warning: 3 timed steps per mode are too few for a stable figure" in " ".join(result.stderr.split())
    # The head bench builds is compare's (10 classes): the same parameters as zoo info at that size.
    small = next(row for row in report["rows"] if row["model"] == "alexnet-torch-small")
    info = json.loads(zoo(env, "info", "alexnet-torch-small", "--input", small["input_size"], "-f", "json").stdout)
    assert small["param_count"] == round(info["summary_at_input"]["param_count"] / 1e6, 3)


def test_accuracy_is_in_percent_everywhere(env, trained, evaluated) -> None:
    summary = trained["summary"]
    assert 10 < summary["top1_pct"] <= summary["top5_pct"] <= 100 and "top1" not in summary
    listed = json.loads(zoo(env, "runs", "list", "--format", "json").stdout)
    assert listed[0]["top1_pct"] == pytest.approx(round(summary["top1_pct"], 2))
    assert evaluated["top1_pct"] == pytest.approx(summary["top1_pct"])
    assert all(0 <= value <= 100 for value in evaluated["per_class_pct"])


def test_train_stderr_starts_with_its_first_epoch_not_a_blank_line(trained) -> None:
    assert trained["stderr"].startswith("epoch 1/1"), trained["stderr"][:200]


def test_predict_shows_what_the_checkpoint_expects_and_hints_at_an_unlike_image(env, trained, tmp_path) -> None:
    from PIL import Image

    from zoo.data import load_dataset

    item = np.asarray(load_dataset("fashion-mnist").test.images[0])[:, :, 0]
    like, unlike = tmp_path / "like.png", tmp_path / "inverted.png"
    Image.fromarray(item).save(like)
    Image.fromarray(255 - item).save(unlike)  # a dark garment on a white page
    result = zoo(env, "predict", trained["summary"]["checkpoint"], str(like), str(unlike), "-f", "json")
    assert result.returncode == 0, result.stderr
    first, second = json.loads(result.stdout)
    assert len(first["predictions"]) == 3 and first["expected_input"]["input_size"] == [1, 28, 28]
    assert first["hint"] is None and "brighter than the training data" in second["hint"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "vgg-*"], "no model matches 'vgg-*'"),
        (["list", "--backend", "foo"], "--backend foo is not one zoo knows; choose"),
        (["compare", "vgg-*", "--dataset", "fashion-mnist"], "no model matches vgg-*"),
        (["evaluate", "/nonexistent"], "checkpoint /nonexistent does not exist"),
        (["bench", "lenet5-torch", "--compile", "--no-compile"], "--compile and --no-compile contradict"),
    ],
)
def test_user_errors_exit_2_with_one_line(env, args: list[str], message: str) -> None:
    result = zoo(env, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_help_pages_read_at_100_columns(env) -> None:
    train = zoo(env, "train", "--help", columns=100).stdout.replace("│", " ")
    assert len(train.splitlines()) < 70  # was 95 (a 22-column description); 7 options came since
    option = next(line for line in train.splitlines() if "--batch-size" in line)
    assert len(option.split("Batch size")[0]) < 40  # the description starts before column 40
    assert "implies --compile (torch models; Keras uses XLA)." in " ".join(train.split())
    bench = " ".join(zoo(env, "bench", "--help", columns=100).stdout.split())
    assert "--channels-last NHWC memory layout" in bench and "[default: 10]" in bench
    runs = zoo(env, "runs", "--help", columns=100).stdout
    assert "list, show, rm, export, rebuild" in " ".join(runs.split()) and "remove" not in runs


def test_the_glossary_names_every_column_and_json_field(env, trained, evaluated, benched, compared) -> None:
    from tests.conftest import REPO
    from zoo.cli.runs import EXPORT_COLUMNS, LIST_COLUMNS
    from zoo.grid.columns import BENCH_COLUMNS, COMPARE_COLUMNS
    from zoo.run.records import EPOCH_FIELDS

    documented = set(re.findall(r"`([a-z][a-z0-9_]*)`", (REPO / "docs" / "glossary.md").read_text()))
    fields = {*COMPARE_COLUMNS, *BENCH_COLUMNS, *LIST_COLUMNS, *EXPORT_COLUMNS, *EPOCH_FIELDS, *trained["summary"]}
    report = json.loads(zoo(env, "compare", *COMPARED, "--dataset", "fashion-mnist", "--epochs", "1", "--limit",
                            "200", "--limit-test", "100", "--batch-size", "25", "--bench-steps", "2",
                            "--bench-warmup", "0", "-f", "json").stdout)
    assert all(row["source"].startswith("reused run") for row in report["rows"])  # compared's runs
    fields |= {key for row in report["rows"] for key in row} | set(report["conditions"])
    fields |= {key for row in json.loads(benched["json"].stdout)["rows"] for key in row}
    fields |= set(json.loads(zoo(env, "list", "-f", "json").stdout)[0])
    fields |= set(json.loads(zoo(env, "data", "list", "-f", "json").stdout)[0])
    fields |= set(evaluated)
    assert not fields - documented, sorted(fields - documented)


def test_one_epoch_curves_tell_train_from_validation_in_percent() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from zoo.cli.plots import _draw_curves

    figure = Figure(layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    epoch = {"epoch": 1, "train_loss": 1.2, "train_accuracy": 0.61, "val_loss": 1.4, "val_accuracy": 0.55}
    _draw_curves(loss_axes, accuracy_axes, {"lenet5-torch": [epoch]})
    train, val = accuracy_axes.get_lines()
    assert list(train.get_ydata()) == pytest.approx([61.0]) and list(val.get_ydata()) == pytest.approx([55.0])
    assert train.get_marker() != val.get_marker() and train.get_markersize() >= 5  # one dot each, told apart
    assert accuracy_axes.get_ylabel() == "top-1 accuracy (%)" and loss_axes.get_ylabel() == "cross-entropy loss"
    legend = {handle.get_label(): handle for handle in accuracy_axes.get_legend().legend_handles}
    assert legend["train"].get_marker() == train.get_marker() and legend["validation"].get_marker() == val.get_marker()


def test_a_scatter_label_at_the_right_edge_stays_inside_the_frame() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from zoo.cli.plots import _separate_labels

    figure = Figure(figsize=(5, 4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_xlim(0, 100)
    axes.set_ylim(0, 100)
    label = axes.annotate("alexnet-keras-small", (97, 50), textcoords="offset points", xytext=(5, 5))
    _separate_labels(figure, [label])
    renderer = figure.canvas.get_renderer()
    box, frame = label.get_window_extent(renderer), axes.get_window_extent(renderer)
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
