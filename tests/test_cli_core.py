"""The installed ``zoo`` executable: listing, info, plugins, errors, start-up weight."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

ALEXNETS = [
    "alexnet-keras", "alexnet-keras-bn", "alexnet-keras-res", "alexnet-keras-small",
    "alexnet-torch", "alexnet-torch-bn", "alexnet-torch-res", "alexnet-torch-small",
]
FRAMEWORKS = ("torch", "tensorflow", "keras", "timm", "jax")


def test_list_json_has_every_model_with_its_plugin(run_zoo) -> None:
    result = run_zoo("list", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    names = [row["name"] for row in rows]
    assert [n for n in names if n.startswith("alexnet-")] == ALEXNETS
    by_name = {row["name"]: row for row in rows}
    assert by_name["alexnet-torch-bn"]["plugin"] == "zoo-torch"
    assert by_name["alexnet-keras-bn"]["backend"] == "keras"
    assert by_name["alexnet-torch-bn"]["input_size"] == [1, 28, 28]


def test_list_table_filters_union_and_exclude(run_zoo) -> None:
    result = run_zoo("list", "ALEXNET-*-BN", "alexnet-*-small", "--exclude", "*keras*")
    assert result.returncode == 0, result.stderr
    assert "alexnet-torch-bn" in result.stdout and "alexnet-torch-small" in result.stdout
    assert "keras" not in result.stdout.replace("zoo-keras", "")
    assert "alexnet-torch-res" not in result.stdout


def test_list_csv_with_backend_and_family_filters(run_zoo) -> None:
    result = run_zoo("list", "--backend", "keras", "--family", "alexnet", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["name"] for r in rows] == [n for n in ALEXNETS if "keras" in n]


def test_list_by_plugin(run_zoo) -> None:
    result = run_zoo("list", "--plugin", "zoo-torch", "-f", "json")
    assert {row["plugin"] for row in json.loads(result.stdout)} == {"zoo-torch"}


def test_pattern_matching_nothing_exits_2_and_says_so(run_zoo) -> None:
    result = run_zoo("list", "vgg-*")
    assert result.returncode == 2
    assert "no model matches 'vgg-*'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_model_exits_2_with_a_suggestion_and_no_traceback(run_zoo) -> None:
    result = run_zoo("info", "alexnet-trch-bn")
    assert result.returncode == 2
    assert "unknown model 'alexnet-trch-bn'; did you mean 'alexnet-torch-bn'?" in result.stderr
    assert "Traceback" not in result.stderr
    debug = run_zoo("--debug", "info", "alexnet-trch-bn")
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_info_shows_spec_distribution_and_reference(run_zoo) -> None:
    result = run_zoo("info", "alexnet-keras-bn", "--format", "json")
    assert result.returncode == 0, result.stderr
    details = json.loads(result.stdout)
    assert details["distribution"] == "zoo-keras 0.1.0"
    assert details["builder"] == "zoo_keras.models:alexnet_bn"
    assert "MNIST" in details["reference"]
    assert details["recipe"]["optimizer"] == "adam" and details["recipe"]["batch_size"] == 128
    assert (details["recipe"]["scheduler"], details["recipe"]["epochs"]) == ("cosine", 30)  # over the tutorial's
    assert (details["recipe"]["min_image_size"], details["recipe"]["label_smoothing"]) == (56, 0.1)
    assert details["recipe"]["image_size"] is None  # so larger images keep their size
    assert details["recipe"]["augment"] is None  # the dataset's default
    torch_bn = json.loads(run_zoo("info", "alexnet-torch-bn", "--format", "json").stdout)
    assert torch_bn["recipe"] == details["recipe"]
    table = " ".join(run_zoo("info", "alexnet-torch-bn", env={"COLUMNS": "400"}).stdout.split())
    assert "epochs=30" in table and "scheduler=cosine" in table and "augment=dataset default" in table
    assert "min_image_size=56" in table and "label_smoothing=0.1" in table


def test_bad_format_is_a_usage_error(run_zoo) -> None:
    result = run_zoo("list", "--format", "yaml")
    assert result.returncode == 2
    assert "--format must be one of table, json, csv" in result.stderr


def test_plugins_lists_first_party_plugins_and_contributions(run_zoo) -> None:
    result = run_zoo("plugins", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    loaded = {p["name"]: p for p in report["loaded"]}
    assert loaded["torch"]["distribution"] == "zoo-torch"
    assert loaded["torch"]["backends"] == ["torch"]
    assert "zoo_register_models" in loaded["keras"]["hooks"]
    keras_models = loaded["keras"]["models"]
    assert [name for name in keras_models if name.startswith("alexnet-")] == [
        "alexnet-keras", "alexnet-keras-bn", "alexnet-keras-res", "alexnet-keras-small"]
    assert {"keras/resnet50", "keras/mobilenet_v2", "keras/xception"} <= set(keras_models)  # Keras Applications
    assert loaded["timm"]["distribution"] == "zoo-timm" and "timm/resnet18" in loaded["timm"]["models"]


def test_version_and_help_everywhere(run_zoo) -> None:
    assert run_zoo("--version").stdout.strip() == "zoo 0.1.0"
    for command in ([], ["list"], ["info"], ["plugins"]):
        result = run_zoo(*command, "--help")
        assert result.returncode == 0 and "Usage" in result.stdout, command


def test_help_shows_bracketed_defaults(run_zoo) -> None:
    """Rich markup would swallow "[recipe: 128]" as a style tag unless it is escaped."""
    train = " ".join(run_zoo("train", "--help", env={"COLUMNS": "200"}).stdout.split())
    for default in ("[recipe: 128]", "[recipe: adam]", "[model's recipe, see zoo info]", "[dataset default]",
                    "[torch on CPU and CUDA: on]", "[auto]"):
        assert default in train, default
    compare = " ".join(run_zoo("compare", "--help", env={"COLUMNS": "200"}).stdout.split())
    for default in ("[model's recipe, see zoo info]", "[recipe: adam]", "[dataset default]"):  # train's options
        assert default in compare, default
    assert "[each model's native input]" in " ".join(run_zoo("bench", "--help", env={"COLUMNS": "200"}).stdout.split())


def test_python_cli_py_matches_the_console_script(run_zoo, zoo_env) -> None:
    from_script = run_zoo("list", "-f", "json").stdout
    from_checkout = subprocess.run(
        [sys.executable, "cli.py", "list", "-f", "json"], cwd=REPO, env=zoo_env, capture_output=True, text=True
    )
    assert from_checkout.returncode == 0, from_checkout.stderr
    assert from_checkout.stdout == from_script


@pytest.mark.parametrize("command", [["list"], ["info", "alexnet-torch-bn"], ["--help"], ["plugins"]])
def test_listing_imports_no_framework(run_zoo, command) -> None:
    result = run_zoo(*command, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "import time:" in line}
    assert "zoo.cli" in imported  # the profile really covers zoo's own imports
    heavy = sorted(m for m in imported if m.split(".")[0] in FRAMEWORKS)
    assert heavy == [], f"'zoo {' '.join(command)}' imported {heavy[:5]}"
    other_commands = {"zoo.cli.train", "zoo.cli.compare", "zoo.cli.convert", "zoo.cli.runs", "zoo.cli.data"}
    if command[0] != "--help":  # help lists every command; the others build only the one they run
        assert imported & other_commands == set(), f"'zoo {' '.join(command)}' built other commands"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "alexnet-torch-bn", "--dataset", "mnist", "--lr", "abc"], "Invalid value for '--lr'"),
        (["list", "--no-such-option"], "No such option: --no-such-option"),
        (["info"], "Missing argument 'name'; see 'zoo info --help'"),
    ],
)
def test_option_parsing_errors_are_one_line_with_exit_2(run_zoo, args, message) -> None:
    result = run_zoo(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
