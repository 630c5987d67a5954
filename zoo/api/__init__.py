"""zoo's plugin API: everything a plugin may import, in one place.

A plugin (first-party or not) imports ``zoo.api`` and nothing else from zoo::

    from zoo.api import ModelSpec, hookimpl

    @hookimpl
    def zoo_register_models(register):
        register(ModelSpec(name="mynet-torch", backend="torch", family="mynet",
                           builder="zoo_mynet.models:mynet", input_size=(1, 28, 28)))

The names exported here are the contract, versioned by :data:`PLUGIN_API_VERSION`
(``docs/plugins.md``, "The plugin API"). Sizes follow timm: ``input_size`` is
(C, H, W), ``img_size`` is (H, W). Nothing in ``zoo.api`` imports a framework or
anything of zoo outside ``zoo.api``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo.api.atomic import atomic_path, atomic_write_bytes, atomic_write_text
    from zoo.api.augment import Augmentation
    from zoo.api.backend import (
        Backend,
        BenchConfig,
        EpochMetrics,
        FitResult,
        LayerRow,
        ModelSummary,
        Preprocessing,
        SilentProgress,
        Throughput,
        TrainingData,
        TrainingProgress,
    )
    from zoo.api.builders import call_builder, load_pretrained
    from zoo.api.config import TrainConfig
    from zoo.api.control import ResumePoint, RunControl, StateSink
    from zoo.api.conversion import ConvertibleBackend, LayerMap, WeightMap
    from zoo.api.data import Split
    from zoo.api.errors import (
        DiskFull,
        NonFiniteLoss,
        PluginError,
        TrainingInterrupted,
        UsageError,
        ZooError,
        describe_error,
    )
    from zoo.api.families import CROSS_FRAMEWORK_PAIRS, alexnet_specs
    from zoo.api.hookspecs import hookimpl
    from zoo.api.loading import load_object
    from zoo.api.paths import cache_home, zoo_home
    from zoo.api.sizes import check_input_size
    from zoo.api.specs import BackendSpec, DataFile, DatasetSpec, ModelSpec
    from zoo.api.version import PLUGIN_API_VERSION

# Where each name lives. Importing zoo.api imports none of them: a plugin module that needs
# ModelSpec and hookimpl (all that `zoo list` loads) pays for those two modules alone.
_HOME = {
    "Augmentation": "zoo.api.augment",
    "CROSS_FRAMEWORK_PAIRS": "zoo.api.families",
    "Backend": "zoo.api.backend",
    "BackendSpec": "zoo.api.specs",
    "BenchConfig": "zoo.api.backend",
    "ConvertibleBackend": "zoo.api.conversion",
    "DataFile": "zoo.api.specs",
    "DatasetSpec": "zoo.api.specs",
    "DiskFull": "zoo.api.errors",
    "EpochMetrics": "zoo.api.epochs",
    "FitResult": "zoo.api.backend",
    "LayerMap": "zoo.api.conversion",
    "LayerRow": "zoo.api.backend",
    "ModelSpec": "zoo.api.specs",
    "ModelSummary": "zoo.api.backend",
    "NonFiniteLoss": "zoo.api.errors",
    "PLUGIN_API_VERSION": "zoo.api.version",
    "PluginError": "zoo.api.errors",
    "Preprocessing": "zoo.api.backend",
    "ResumePoint": "zoo.api.control",
    "RunControl": "zoo.api.control",
    "SilentProgress": "zoo.api.backend",
    "Split": "zoo.api.data",
    "StateSink": "zoo.api.control",
    "Throughput": "zoo.api.backend",
    "TrainConfig": "zoo.api.config",
    "TrainingData": "zoo.api.backend",
    "TrainingInterrupted": "zoo.api.errors",
    "TrainingProgress": "zoo.api.backend",
    "UsageError": "zoo.api.errors",
    "WeightMap": "zoo.api.conversion",
    "ZooError": "zoo.api.errors",
    "alexnet_specs": "zoo.api.families",
    "atomic_path": "zoo.api.atomic",
    "atomic_write_bytes": "zoo.api.atomic",
    "atomic_write_text": "zoo.api.atomic",
    "cache_home": "zoo.api.paths",
    "call_builder": "zoo.api.builders",
    "check_input_size": "zoo.api.sizes",
    "describe_error": "zoo.api.errors",
    "hookimpl": "zoo.api.hookspecs",
    "load_object": "zoo.api.loading",
    "load_pretrained": "zoo.api.builders",
    "zoo_home": "zoo.api.paths",
}

__all__ = [
    "CROSS_FRAMEWORK_PAIRS",
    "PLUGIN_API_VERSION",
    "Augmentation",
    "Backend",
    "BackendSpec",
    "BenchConfig",
    "ConvertibleBackend",
    "DataFile",
    "DatasetSpec",
    "DiskFull",
    "EpochMetrics",
    "FitResult",
    "LayerMap",
    "LayerRow",
    "ModelSpec",
    "ModelSummary",
    "NonFiniteLoss",
    "PluginError",
    "Preprocessing",
    "ResumePoint",
    "RunControl",
    "SilentProgress",
    "Split",
    "StateSink",
    "Throughput",
    "TrainConfig",
    "TrainingData",
    "TrainingInterrupted",
    "TrainingProgress",
    "UsageError",
    "WeightMap",
    "ZooError",
    "alexnet_specs",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "cache_home",
    "call_builder",
    "check_input_size",
    "describe_error",
    "hookimpl",
    "load_object",
    "load_pretrained",
    "zoo_home",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'zoo.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
