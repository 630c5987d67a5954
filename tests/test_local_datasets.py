"""Local datasets from real Fashion-MNIST images written as files: folders, CSV, .npz, bad input, the cache.

In-process tests call ``zoo.data`` with a private cache; CLI tests run the
installed ``zoo`` (private ZOO_HOME and cache). Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.local_data import (
    CLASS_FOLDERS,
    cache_entries,
    fashion,
    link_outside,
    needs_fashion,
    save_png,
    text_named_png,
    truncated_png,
    write_classes,
    write_split_folder,
    zero_byte_jpeg,
)
from zoo.api.errors import UsageError, ZooError
from zoo.data import load_dataset

pytestmark = needs_fashion


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private dataset cache and ZOO_HOME for in-process loads."""
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZOO_DECODE_WORKERS", raising=False)
    return tmp_path / "cache"


def _decoded(entry: Path) -> dict:
    return json.loads((entry / "meta.json").read_text())["local"]


def _resolve(path: Path, **options: object):
    from zoo.data.local import resolve
    from zoo.data.local_registry import path_spec
    from zoo.data.local_spec import LocalOptions

    return resolve(path_spec(str(path), LocalOptions(**options)), progress=False)  # type: ignore[arg-type]


# -- what comes out -------------------------------------------------------------------------


def test_split_folders_decode_to_the_source_pixels_in_name_order(tmp_path: Path, cache: Path) -> None:
    root = write_split_folder(tmp_path / "fm", train=120, test=60)
    spec, data, entry = _resolve(root, order="name")
    train_x, train_y = fashion("train", 120)
    test_x, test_y = fashion("test", 60)
    assert spec.classes == CLASS_FOLDERS and spec.shape == (28, 28, 1)
    assert np.array_equal(data.train.images[..., 0], train_x) and np.array_equal(data.train.labels, train_y)
    assert np.array_equal(data.test.images[..., 0], test_x) and np.array_equal(data.test.labels, test_y)
    # Mean and std are the training split's own, in [0, 1] units, stored with the arrays.
    assert spec.mean[0] == pytest.approx(train_x.mean() / 255, abs=1e-12)
    assert spec.std[0] == pytest.approx(train_x.std() / 255, abs=1e-12)
    assert _decoded(entry)["mean"] == list(spec.mean)
    # A later load maps the same cache entry, read-only, without decoding (the entry is not rewritten).
    inode = entry.stat().st_ino
    _, again, entry_again = _resolve(root, order="name")
    assert entry_again == entry and entry.stat().st_ino == inode and cache_entries(cache) == [entry]
    assert isinstance(again.train.images, np.memmap) and not again.train.images.flags.writeable
    # The same folder read with other options is another entry; load_dataset takes a path as a name.
    by_path = load_dataset(str(root), progress=False)
    assert len(by_path.train) == 120 and len(cache_entries(cache)) == 2


def test_a_pool_of_workers_decodes_the_same_arrays(tmp_path: Path, cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_split_folder(tmp_path / "fm", train=120, test=40)
    monkeypatch.setenv("ZOO_DECODE_WORKERS", "1")
    _, alone, entry = _resolve(root, order="name")
    serial = {split: np.array(getattr(alone, split).images) for split in ("train", "test")}
    shutil.rmtree(entry)
    monkeypatch.setenv("ZOO_DECODE_WORKERS", "2")
    _, pooled, _ = _resolve(root, order="name")
    assert all(np.array_equal(getattr(pooled, split).images, serial[split]) for split in serial)


def test_every_format_pillow_reads(tmp_path: Path, cache: Path) -> None:
    from PIL import Image

    images, labels = fashion("train", 60)
    suffixes = (".png", ".bmp", ".gif", ".tif", ".webp", ".jpg")
    root = tmp_path / "formats"
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        suffix = suffixes[i % len(suffixes)]
        target = root / CLASS_FOLDERS[int(label)] / f"{i:05d}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target, **({"lossless": True} if suffix == ".webp" else {}))
    spec, data, entry = _resolve(root, order="name", test_split=0.2)
    assert spec.shape == (28, 28, 1) and len(data.train) + len(data.test) == 60
    # Pillow opens the GIFs as palette images and the WebPs as RGB: converted to the majority's grey.
    decoded_modes = _decoded(entry)["modes"]
    assert decoded_modes == {"L": 40, "P": 10, "RGB": 10} and _decoded(entry)["converted"] == 20
    assert _decoded(entry)["skipped"] == []
    # Every lossless format gives the source pixels back.
    decoded = {bytes(row): row for row in np.concatenate([data.train.images, data.test.images])[..., 0]}
    for i, image in enumerate(images):
        if suffixes[i % len(suffixes)] != ".jpg":
            assert image.tobytes() in decoded, suffixes[i % len(suffixes)]


def test_shuffled_order_mixes_classes_and_is_seeded(tmp_path: Path, cache: Path) -> None:
    root = write_split_folder(tmp_path / "fm", train=100, test=30)
    _, first, _ = _resolve(root)
    _, same, _ = _resolve(root)
    _, other, _ = _resolve(root, seed=1)
    assert len(set(first.train.labels[:20].tolist())) >= 5  # --limit 20 sees most classes
    assert np.array_equal(first.train.labels, same.train.labels)
    assert not np.array_equal(first.train.labels, other.train.labels)
    assert sorted(first.train.labels.tolist()) == sorted(fashion("train", 100)[1].tolist())


def test_one_set_of_class_folders_is_split_stratified_and_stably(tmp_path: Path, cache: Path) -> None:
    from zoo.data.folders import scan_source
    from zoo.data.local_spec import LocalOptions

    images, labels = fashion("train", 200)
    write_classes(tmp_path / "flat", images, labels)
    options = LocalOptions(test_split=0.25, seed=3)
    splits, layout = scan_source(tmp_path / "flat", options).arrange(options)
    per_class = np.bincount(labels, minlength=10)
    test_counts = np.bincount([s.label for s in splits["test"]], minlength=10)
    assert test_counts.tolist() == [max(1, round(n * 0.25)) for n in per_class]
    assert "0.25 of each class held out" in layout
    # Adding an image moves no other image between train and test.
    save_png(tmp_path / "flat" / CLASS_FOLDERS[0] / "new.png", images[0])
    again, _ = scan_source(tmp_path / "flat", options).arrange(options)
    before = {s.key for s in splits["test"]}
    after = {s.key for s in again["test"]}
    assert before - after == set() and after - before <= {f"{CLASS_FOLDERS[0]}/new.png"} | before


def test_val_folder_is_the_datasets_own_validation_split(tmp_path: Path, cache: Path) -> None:
    from zoo.api.config import TrainConfig
    from zoo.plugins.registry import get_registry
    from zoo.run.plan import prepare_data

    root = write_split_folder(tmp_path / "fm", train=80, test=40, val=30)
    _, data, _ = _resolve(root, order="name")
    assert data.val is not None and len(data.val) == 30
    assert np.array_equal(data.val.images[..., 0], fashion("train", 30, start=80)[0])
    model = get_registry().model("lenet5-torch").spec
    training, _ = prepare_data(model, data, TrainConfig.build(model.recipe))
    assert len(training.train) == 80 and training.val is not None and len(training.val) == 30


def test_mixed_sizes_and_modes_follow_the_majority_or_the_options(tmp_path: Path, cache: Path) -> None:
    from PIL import Image

    images, labels = fashion("train", 60)
    root = tmp_path / "mixed"
    write_classes(root / "train", images[:50], labels[:50])
    write_classes(root / "test", *fashion("test", 30))
    odd = root / "train" / CLASS_FOLDERS[int(labels[50])] / "odd.png"
    Image.fromarray(images[50]).resize((40, 36)).convert("RGB").save(odd)
    spec, data, entry = _resolve(root)
    assert spec.shape == (28, 28, 1) and data.train.images.shape == (51, 28, 28, 1)
    decoded = _decoded(entry)
    assert decoded["resized"] == 1 and decoded["converted"] == 1
    assert decoded["size_rule"] == "the most common size" and decoded["mode_rule"] == "the majority mode"
    spec, data, _ = _resolve(root, image_size=(16, 20), mode="rgb", order="name")
    assert spec.shape == (16, 20, 3) and data.train.images.shape == (51, 16, 20, 3)
    with Image.open(odd) as picture:
        expected = np.asarray(picture.convert("RGB").resize((20, 16), Image.Resampling.BILINEAR))
    assert any(np.array_equal(row, expected) for row in data.train.images)


def test_changed_folder_decodes_only_what_changed(tmp_path: Path, cache: Path) -> None:
    root = write_split_folder(tmp_path / "fm", train=100, test=40)
    _, first, entry = _resolve(root, order="name")
    assert _decoded(entry)["decoded"] == 140 and _decoded(entry)["reused"] == 0
    # Five new files, one changed in place (another image, a later mtime), one deleted.
    new_images, new_labels = fashion("train", 5, start=500)
    write_classes(root / "train", new_images, new_labels, first_index=500)
    changed = next((root / "train").glob("*/00003.png"))
    save_png(changed, fashion("train", 1, start=900)[0][0])
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    next((root / "train").glob("*/00007.png")).unlink()
    _, second, entry2 = _resolve(root, order="name")
    assert entry2 != entry and not entry.exists()  # the stale entry is pruned
    assert _decoded(entry2)["decoded"] == 6 and _decoded(entry2)["reused"] == 138
    assert len(second.train) == 104
    names = sorted(p.name for p in (root / "train").glob("*/*.png"))
    assert names.index("00003.png") == 3
    assert np.array_equal(second.train.images[3, ..., 0], fashion("train", 1, start=900)[0][0])
    assert np.array_equal(second.test.images, first.test.images)


def test_csv_of_paths_and_labels(tmp_path: Path, cache: Path) -> None:
    images, labels = fashion("train", 90)
    files = write_classes(tmp_path / "pool", images, labels)
    rows = ["path,label"] + [f"pool/{p.parent.name}/{p.name},{CLASS_FOLDERS[int(y)][2:]}"
                             for p, y in zip(files, labels, strict=True)]
    listing = tmp_path / "labels.csv"
    listing.write_text("\n".join(rows) + "\n")
    spec, data, entry = _resolve(listing, order="name")
    assert spec.classes == tuple(sorted(name[2:] for name in CLASS_FOLDERS))
    assert len(data.train) + len(data.test) == 90 and "held out as test" in _decoded(entry)["layout"]
    # A split column is used as given; a listed file that is missing names its row's file.
    with_split = tmp_path / "split.csv"
    with_split.write_text("path,label,split\n" + "".join(
        f"pool/{p.parent.name}/{p.name},{y},{'test' if i % 3 == 0 else 'train'}\n"
        for i, (p, y) in enumerate(zip(files, labels, strict=True))))
    spec, data, _ = _resolve(with_split, order="name")
    assert spec.classes == tuple(str(i) for i in range(10)) and len(data.test) == 30
    assert np.array_equal(data.test.images[..., 0], images[::3])
    files[4].unlink()
    with pytest.raises(ZooError, match=f"{files[4].name} is listed in split.csv but does not exist"):
        _resolve(with_split)


def test_npz_in_the_keras_datasets_layout(tmp_path: Path, cache: Path) -> None:
    x_train, y_train = fashion("train", 70)
    x_test, y_test = fashion("test", 30)
    archive = tmp_path / "fm.npz"
    np.savez_compressed(archive, x_train=x_train, y_train=y_train.reshape(-1, 1), x_test=x_test, y_test=y_test,
                        class_names=np.array(CLASS_FOLDERS))
    spec, data, _ = _resolve(archive)
    assert spec.classes == CLASS_FOLDERS and spec.shape == (28, 28, 1)
    assert np.array_equal(data.train.images[..., 0], x_train) and np.array_equal(data.test.labels, y_test)
    assert spec.mean[0] == pytest.approx(x_train.mean() / 255, abs=1e-12)
    spec, data, _ = _resolve(archive, image_size=(14, 14))
    assert data.train.images.shape == (70, 14, 14, 1)
    bad = tmp_path / "float.npz"
    np.savez(bad, x_train=x_train / 255.0, y_train=y_train, x_test=x_test, y_test=y_test)
    with pytest.raises(ZooError, match="x_train is float64; save uint8 pixels"):
        _resolve(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, x_train=x_train, y_train=y_train)
    with pytest.raises(ZooError, match="needs x_train, y_train, x_test and y_test"):
        _resolve(partial)


# -- bad input: one line naming the file, nothing written ------------------------------------


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d, img: truncated_png(d / "bad.png", img), "bad.png is truncated"),
        (lambda d, img: zero_byte_jpeg(d / "bad.jpg"), "bad.jpg is empty (0 bytes)"),
        (lambda d, img: text_named_png(d / "bad.png"), "bad.png is not an image Pillow can read"),
        (lambda d, img: link_outside(d / "bad.png", Path(__file__)), "bad.png is a symbolic link to"),
        (lambda d, img: os.mkfifo(d / "bad.png"), "bad.png is not a regular file"),
    ],
    ids=["truncated-png", "zero-byte-jpeg", "text-named-png", "symlink-outside", "fifo"],
)
def test_a_bad_file_is_one_error_naming_it_and_nothing_is_cached(tmp_path: Path, cache: Path, make,
                                                                  reason: str) -> None:
    root = write_split_folder(tmp_path / "fm", train=40, test=20)
    make(root / "train" / CLASS_FOLDERS[2], fashion("train", 1)[0][0])
    with pytest.raises(ZooError) as error:
        _resolve(root)
    message = str(error.value)
    assert reason in message and "\n" not in message and "--skip-bad" in message
    assert cache_entries(cache) == []
    _, data, entry = _resolve(root, skip_bad=True)  # left out, and listed
    assert len(data.train) == 40
    assert [reason in f"{path} {why}" for path, why in _decoded(entry)["skipped"]] == [True]


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("empty-class", "holds no images"),
        ("train-not-test", "is in {root}/train/ but not in {root}/test/"),
        ("test-not-train", "is in {root}/test/ but not in {root}/train/"),
        ("one-class", "has one class (0-tshirt-top)"),
        ("no-class-folders", "holds images but no class folders"),
        ("test-without-train", "but no train/"),
        ("extra-folder", "and also notes"),
        ("tiny-class", "too few for a test split"),
    ],
)
def test_folder_structure_errors(tmp_path: Path, cache: Path, layout: str, message: str) -> None:
    root = tmp_path / "data"
    images, labels = fashion("train", 40)
    if layout == "one-class":
        write_classes(root, images[labels == 0], labels[labels == 0])
    elif layout == "no-class-folders":
        for i, image in enumerate(images[:5]):
            save_png(root / f"{i}.png", image)
    elif layout == "test-without-train":
        write_classes(root / "test", images, labels)
    elif layout == "tiny-class":
        write_classes(root, images, labels)
        save_png(root / "lonely" / "only.png", images[0])
    else:
        write_split_folder(root, train=40, test=20)
        if layout == "empty-class":
            (root / "test" / "10-empty").mkdir()
            (root / "train" / "10-empty").mkdir()
        elif layout == "train-not-test":
            save_png(root / "train" / "10-extra" / "a.png", images[0])
        elif layout == "test-not-train":
            save_png(root / "test" / "10-extra" / "a.png", images[0])
        elif layout == "extra-folder":
            (root / "notes").mkdir()
    with pytest.raises(ZooError, match=None) as error:
        _resolve(root)
    assert message.format(root=root) in str(error.value) and "\n" not in str(error.value)
    assert cache_entries(cache) == []


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        _resolve(tmp_path / "nowhere")


# -- the CLI ----------------------------------------------------------------------------------


def test_data_add_list_info_verify_show_remove(run_zoo, tmp_path: Path, zoo_env: dict[str, str]) -> None:
    root = write_split_folder(tmp_path / "fm", train=150, test=50)
    add = run_zoo("data", "add", "fm-png", str(root), "--augment", "shift")
    assert add.returncode == 0, add.stderr
    assert "added fm-png: 10 classes, 150 train / 50 test images, 1x28x28 (CxHxW)" in add.stderr
    registry = json.loads((Path(zoo_env["ZOO_HOME"]) / "datasets.json").read_text())
    assert registry["datasets"]["fm-png"]["source"] == str(root)

    rows = {r["name"]: r for r in json.loads(run_zoo("data", "list", "--format", "json").stdout)}
    assert rows["fm-png"]["classes"] == 10 and rows["fm-png"]["input_size"] == [1, 28, 28]
    assert rows["fm-png"]["cached"] is True and rows["fm-png"]["plugin"] == "zoo"
    assert rows["fm-png"]["augment"] == "shift"

    info = run_zoo("data", "info", "fm-png", "--format", "json")
    assert info.returncode == 0, info.stderr
    details = json.loads(info.stdout)
    labels = fashion("train", 150)[1]
    assert details["splits"]["train"]["per_class"] == np.bincount(labels, minlength=10).tolist()
    assert details["local"]["source"] == str(root) and details["local"]["layout"] == "split as given: train/, test/"
    assert details["local"]["stats"] == "computed from the training split"
    assert details["mean"][0] == pytest.approx(fashion("train", 150)[0].mean() / 255, abs=1e-12)
    table = run_zoo("data", "info", "fm-png")
    assert "9-ankle-boot" in table.stdout and "28x28 grey" in table.stdout

    verify = run_zoo("data", "verify", "fm-png")
    assert verify.returncode == 0 and "fm-png: ok, 200 file(s) decode" in verify.stderr
    assert "the cached arrays match the files" in verify.stderr
    grid = tmp_path / "grid.png"
    show = run_zoo("data", "show", "fm-png", "--output", str(grid), "--count", "8")
    assert show.returncode == 0 and grid.stat().st_size > 0

    again = run_zoo("data", "add", "fm-png", str(root))
    assert again.returncode == 2 and "already exists" in again.stderr
    taken = run_zoo("data", "add", "mnist", str(root))
    assert taken.returncode == 2 and "already exists (from zoo)" in taken.stderr

    remove = run_zoo("data", "remove", "fm-png")
    assert remove.returncode == 0 and f"the files in {root} are untouched" in remove.stderr
    assert "fm-png" not in run_zoo("data", "list").stdout
    assert len(list(root.glob("*/*/*.png"))) == 200
    assert cache_entries(Path(zoo_env["ZOO_CACHE_DIR"])) == []
    gone = run_zoo("data", "remove", "fm-png")
    assert gone.returncode == 2 and "no local dataset 'fm-png'" in gone.stderr


def test_cli_bad_files_skip_bad_and_verify(run_zoo, tmp_path: Path, zoo_env: dict[str, str]) -> None:
    root = write_split_folder(tmp_path / "fm", train=60, test=30)
    folder = root / "train" / CLASS_FOLDERS[1]
    truncated_png(folder / "cut.png", fashion("train", 1)[0][0])
    zero_byte_jpeg(folder / "empty.jpg")
    text_named_png(folder / "notes.png")
    refused = run_zoo("data", "add", "fm-bad", str(root))
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: fm-bad: ") and "(and 2 more bad file(s))" in lines[0]
    assert "--skip-bad" in lines[0] and "Traceback" not in refused.stderr
    assert "fm-bad" not in run_zoo("data", "list").stdout
    assert cache_entries(Path(zoo_env["ZOO_CACHE_DIR"])) == []

    added = run_zoo("data", "add", "fm-bad", str(root), "--skip-bad")
    assert added.returncode == 0, added.stderr
    assert "skipped 3 bad file(s)" in added.stderr and "60 train" in added.stderr
    skipped = dict(json.loads(run_zoo("data", "info", "fm-bad", "--format", "json").stdout)["local"]["skipped"])
    prefix = f"train/{CLASS_FOLDERS[1]}"
    assert skipped == {f"{prefix}/cut.png": "is truncated (the image data ends early)",
                       f"{prefix}/empty.jpg": "is empty (0 bytes)",
                       f"{prefix}/notes.png": "is not an image Pillow can read"}
    verify = run_zoo("data", "verify", "fm-bad", "--format", "json")
    assert verify.returncode == 0 and {r["state"] for r in json.loads(verify.stdout)["files"]} == {"skipped"}

    missing = run_zoo("data", "add", "nowhere", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    both = run_zoo("data", "add", "x", str(root), "--grey", "--rgb")
    assert both.returncode == 2 and "not both" in both.stderr
    # Listing never reads the folder: with it gone, list works and info says what to do.
    for path in [*sorted(root.rglob("*"), reverse=True), root]:
        path.unlink() if not path.is_dir() else path.rmdir()
    assert "fm-bad" in run_zoo("data", "list").stdout
    info = run_zoo("data", "info", "fm-bad")
    assert info.returncode == 2 and f"{root} does not exist; restore it, or 'zoo data remove fm-bad'" in info.stderr


def test_ctrl_c_while_decoding_leaves_nothing(zoo_exe: Path, zoo_env: dict[str, str], tmp_path: Path) -> None:
    # 200 real images, each stored under 25 names: enough files that the decode is still running when
    # the signal comes, written in a fraction of a second.
    images, labels = fashion("train", 200)
    blobs = [save_png(tmp_path / "one" / f"{i}.png", image).read_bytes() for i, image in enumerate(images)]
    root = tmp_path / "many"
    for copy in range(25):
        for i, (blob, label) in enumerate(zip(blobs, labels, strict=True)):
            path = root / CLASS_FOLDERS[int(label)] / f"{copy:02d}-{i:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob)
    env = {**zoo_env, "ZOO_DECODE_WORKERS": "2"}
    def start() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # not ignored, even under a shell's background job
        os.nice(19)  # on a busy machine, this test sees the decode start long before it ends

    process = subprocess.Popen([str(zoo_exe), "data", "add", "many", str(root)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=start)
    local = Path(zoo_env["ZOO_CACHE_DIR"]) / "datasets" / "local"
    deadline = time.monotonic() + 60
    while not list(local.glob("*/.arrays-*.partial-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the decode finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert cache_entries(Path(zoo_env["ZOO_CACHE_DIR"])) == []
    assert not (Path(zoo_env["ZOO_HOME"]) / "datasets.json").exists() or "many" not in (
        Path(zoo_env["ZOO_HOME"]) / "datasets.json").read_text()
