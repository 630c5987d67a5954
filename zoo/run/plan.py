"""What a run is, resolved once: the model, data, backend, recipe, environment, and the key of its result.

``zoo train`` and ``zoo compare``'s workers both start from :func:`plan_run`; a worker looks the
:attr:`RunPlan.reuse_key` up in the store before it trains, and trains the same plan when nothing matches.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.api.augment import Augmentation
from zoo.api.backend import Backend, ModelSummary, Preprocessing, TrainingData
from zoo.api.config import TrainConfig
from zoo.api.data import Split
from zoo.api.errors import UsageError, ZooError
from zoo.api.sizes import training_img_size
from zoo.api.specs import DatasetSpec, ModelSpec
from zoo.data.arrays import Dataset, split_validation
from zoo.data.datasets import dataset_identity, find_dataset
from zoo.plugins.backends import get_backend
from zoo.plugins.registry import get_registry
from zoo.run.allocator import keep_freed_memory
from zoo.run.environment import core_environment
from zoo.run.memory import check_training_batch, out_of_memory

VERSION_KEYS = ("zoo", "framework", "keras_backend", "torch", "timm", "keras", "tensorflow", "jax", "device_name")


@dataclass(frozen=True)
class RunPlan:
    """One run, resolved: nothing is loaded or written yet."""

    spec: ModelSpec
    dataset: DatasetSpec
    backend: Backend
    config: TrainConfig
    environment: dict[str, str]
    plugin: str  # the distribution that registered the model, with its version ("zoo-torch 0.1.0")

    @property
    def recipe(self) -> dict[str, Any]:
        """The recipe as recorded (every setting that changes what is learnt)."""
        return self.config.recipe()

    def reuse_key(self, summary: ModelSummary | None = None) -> str:
        """The identity of this run's result (see :func:`reuse_key`), ``summary`` that of the built model."""
        return reuse_key(self.spec.name, dataset_identity(self.dataset), self.recipe, self.environment,
                         plugin=self.plugin, fingerprint=model_fingerprint(summary) if summary else "")


def plan_run(model: str, dataset: str, config: TrainConfig | None = None, *,
             overrides: dict[str, Any] | None = None) -> RunPlan:
    """Resolve ``model`` and ``dataset`` by name and the recipe: the model's, ``config`` instead, or the
    model's changed by ``overrides`` (``None`` values ignored). Unknown names and bad values fail here."""
    entry = get_registry().model(model)
    spec = entry.spec
    config = config or TrainConfig.build(spec.recipe, overrides)
    if config.pretrained and not spec.pretrained:
        raise UsageError(f"{spec.name} has no pretrained weights; leave out `pretrained` and `weights`")
    dataset_spec = find_dataset(dataset).spec
    backend = get_backend(spec.backend)
    keep_freed_memory()  # before the data and the model are allocated
    environment = {**core_environment(), **backend.environment(config.device)}
    plugin = f"{entry.plugin.distribution} {entry.plugin.version}".strip()
    return RunPlan(spec, dataset_spec, backend, config, environment, plugin)


def reuse_key(model: str, dataset: str, recipe: dict[str, Any], environment: dict[str, str], *,
              plugin: str = "", fingerprint: str = "") -> str:
    """Identity of a run's result: the same model, built the same (the plugin's version and the built
    model's ``fingerprint``), on the same data, recipe and seed, with the same backend and library versions."""
    versions = {key: environment.get(key, "") for key in VERSION_KEYS}
    blob = json.dumps({"model": model, "dataset": dataset, "recipe": recipe, "versions": versions,
                       "plugin": plugin, "fingerprint": fingerprint}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def model_fingerprint(summary: ModelSummary) -> str:
    """What the built model is, as far as a stored result goes: its layers' names, kinds, output shapes
    and parameter counts. A plugin whose builder changed the network gets another fingerprint."""
    layers = [[layer.name, layer.kind, list(layer.output_shape), layer.params] for layer in summary.layers]
    blob = json.dumps({"layers": layers, "params": summary.param_count, "macs": summary.macs})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def prepare_data(spec: ModelSpec, dataset: Dataset, config: TrainConfig) -> tuple[TrainingData, Split]:
    """Limit, split and describe the data for one model: (training data, test split)."""
    image_h, image_w, channels = dataset.train.images.shape[1:]
    if channels != len(dataset.spec.mean):
        raise ZooError(f"dataset {dataset.spec.name} has {channels} channels but declares {len(dataset.spec.mean)}")
    img_size = training_img_size(spec, (image_h, image_w), config.image_size, config.min_image_size)
    if dataset.val is not None and config.val_split > 0:  # the dataset's own val/ split
        train, val = dataset.train.head(config.limit), dataset.val
    else:
        train, val = split_validation(dataset.train.head(config.limit), config.val_split, config.seed)
    data = TrainingData(
        dataset=dataset.spec.name,
        classes=dataset.spec.classes,
        train=train,
        val=val,
        preprocessing=Preprocessing(dataset.spec.mean, dataset.spec.std, img_size),
        augmentation=Augmentation.named(config.augment or dataset.spec.augment).scaled(img_size[0] / image_h),
    )
    return data, dataset.test.head(config.limit_test)


@dataclass(frozen=True)
class PreparedRun:
    """Everything a run needs, loaded and checked before anything is written."""

    plan: RunPlan
    arrays: Dataset
    data: TrainingData
    test: Split
    summary: ModelSummary
    data_seconds: float

    @property
    def reuse_key(self) -> str:
        """The identity of this run's result, with the fingerprint of the model as built for this data."""
        return self.plan.reuse_key(self.summary)


def prepare_run(plan: RunPlan, data_dir: str | Path | None) -> PreparedRun:
    """Load the data and check shapes and memory: bad input fails here, before any record or folder."""
    from zoo.data import load_dataset

    spec, config = plan.spec, plan.config
    loading = time.perf_counter()
    arrays = load_dataset(plan.dataset, data_dir=data_dir)
    data, test = prepare_data(spec, arrays, config)
    data_seconds = time.perf_counter() - loading
    if len(data.train) == 0:
        raise UsageError(f"no training images left for {spec.name} after `limit` and `val_split`; raise `limit` "
                         "or lower `val_split`")
    height, width = data.preprocessing.img_size
    with out_of_memory(batch_size=None, what=f"building {spec.name} at {height}x{width}"):
        summary = plan.backend.summarize(spec, num_classes=data.num_classes, input_size=data.preprocessing.input_size)
    check_training_batch(summary, batch_size=config.batch_size, train_images=len(data.train),
                         what=f"{spec.name} at {height}x{width}",
                         device=plan.environment.get("device", config.device))
    return PreparedRun(plan, arrays, data, test, summary, data_seconds)
