"""The registry in-process: matching, sorting, lookups, isolation of raising plugins."""

from __future__ import annotations

import types

import pytest

from zoo import ModelSpec, PluginError, UsageError, hookimpl
from zoo.plugins.discovery import load_plugins
from zoo.plugins.registry import Registry, matches, natural_key


def _plugin(name: str, *specs: ModelSpec, fail: bool = False) -> types.SimpleNamespace:
    @hookimpl
    def zoo_register_models(register):
        for spec in specs:
            register(spec)
        if fail:
            raise RuntimeError(f"{name} broke")

    return types.SimpleNamespace(zoo_register_models=zoo_register_models)


def _spec(name: str, backend: str = "torch", family: str = "net") -> ModelSpec:
    return ModelSpec(name=name, backend=backend, family=family, builder="pkg.mod:build")


def _registry(*plugins: tuple[str, object]) -> Registry:
    return Registry.from_plugins(load_plugins(entry_points=False, extra=plugins))


def test_natural_sort_orders_numbers_by_value() -> None:
    names = ["resnet50", "resnet9", "resnet18", "Resnet101"]
    assert sorted(names, key=natural_key) == ["resnet9", "resnet18", "resnet50", "Resnet101"]


def test_glob_matching_is_case_insensitive() -> None:
    assert matches("alexnet-torch-bn", ["ALEXNET-*-BN"])
    assert not matches("alexnet-torch-bn", ["alexnet-keras-*"])


def test_select_models_unions_patterns_then_excludes() -> None:
    specs = [_spec("a-torch"), _spec("a-keras", "keras"), _spec("b-torch"), _spec("c-torch-10"), _spec("c-torch-9")]
    registry = _registry(("p", _plugin("p", *specs)))
    picked = registry.select_models(["a-*", "c-*"], exclude=["*-keras"])
    assert [e.name for e in picked] == ["a-torch", "c-torch-9", "c-torch-10"]
    assert [e.name for e in registry.select_models(backend="keras")] == ["a-keras"]
    assert registry.select_models(["zzz*"]) == []


def test_raising_plugin_hides_nothing_of_the_others_and_registers_nothing_itself() -> None:
    registry = _registry(
        ("good", _plugin("good", _spec("good-torch"))),
        ("bad", _plugin("bad", _spec("half-torch"), fail=True)),
    )
    assert list(registry.models) == ["good-torch"]
    assert [(f.plugin, f.stage) for f in registry.failures] == [("bad", "zoo_register_models")]
    assert "RuntimeError: bad broke" in registry.failures[0].error


def test_duplicate_name_is_refused_naming_both_plugins() -> None:
    registry = _registry(
        ("first", _plugin("first", _spec("same-torch"))),
        ("second", _plugin("second", _spec("same-torch"), _spec("other-torch"))),
    )
    assert "same-torch" not in registry.models  # install order must not decide
    assert "other-torch" in registry.models
    (failure,) = registry.failures
    assert "registered by both first and second" in failure.error
    with pytest.raises(PluginError, match="'same-torch' is registered by both first and second; uninstall one"):
        registry.model("same-torch")


def test_unknown_name_suggests_the_closest() -> None:
    registry = _registry(("p", _plugin("p", _spec("alexnet-torch-bn"), _spec("alexnet-torch"))))
    with pytest.raises(UsageError, match=r"unknown model 'alexnet-trch-bn'; did you mean 'alexnet-torch-bn'\?"):
        registry.model("alexnet-trch-bn")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "Bad Name"},
        {"builder": "no-colon"},
        {"input_size": (32, 32)},
    ],
)
def test_malformed_specs_are_plugin_errors(kwargs: dict) -> None:
    base = {"name": "ok-torch", "backend": "torch", "family": "f", "builder": "a.b:c"}
    with pytest.raises(PluginError):
        ModelSpec(**{**base, **kwargs})


def test_hook_registering_the_wrong_type_is_a_failure() -> None:
    @hookimpl
    def zoo_register_models(register):
        register({"name": "dict-is-not-a-spec"})

    registry = _registry(("wrong", types.SimpleNamespace(zoo_register_models=zoo_register_models)))
    assert not registry.models
    assert "expects ModelSpec, got dict" in registry.failures[0].error


def test_misspelt_hook_is_reported_not_silently_ignored() -> None:
    @hookimpl
    def zoo_register_modles(register):
        register(_spec("never-torch"))

    registry = _registry(("typo", types.SimpleNamespace(zoo_register_modles=zoo_register_modles)))
    (failure,) = registry.failures
    assert failure.stage == "register" and "unknown hook(s) zoo_register_modles" in failure.error
    assert "typo" not in registry.plugins


def test_a_variants_recipe_overrides_the_defaults_and_user_options_override_both() -> None:
    from zoo.api.config import TrainConfig
    from zoo.api.families import alexnet_specs

    bn = {spec.variant: spec for spec in alexnet_specs("torch", "zoo_torch.models")}["bn"]
    recipe = TrainConfig.build(bn.recipe)
    assert (recipe.scheduler, recipe.epochs) == ("cosine", 30)
    assert (TrainConfig().scheduler, TrainConfig().epochs) == ("none", 10)  # the tutorial's stay the global default
    chosen = TrainConfig.build(bn.recipe, {"scheduler": "none", "epochs": None, "batch_size": 64})
    assert (chosen.scheduler, chosen.epochs, chosen.batch_size) == ("none", 30, 64)  # None means "not given"


def test_compile_mode_is_checked_and_changes_how_fast_not_what_is_learnt() -> None:
    from zoo.api.config import RUNTIME_SETTINGS, TrainConfig
    from zoo.api.errors import UsageError

    with pytest.raises(UsageError, match="`compile_mode` must be one of default, reduce-overhead"):
        TrainConfig(compile=True, compile_mode="fast").validated()
    graphs = TrainConfig(compile=True, compile_mode="reduce-overhead").validated()
    assert graphs.recipe() == TrainConfig().recipe()  # the same recipe: a stored run is reused, a resume may switch
    assert {"compile", "compile_mode"} <= set(RUNTIME_SETTINGS)


def test_naming_a_compile_mode_turns_compiling_on_and_leaving_both_out_keeps_the_recipe() -> None:
    from zoo.api.config import TrainConfig
    from zoo.api.errors import UsageError
    from zoo.cli.options import compile_settings

    graphs = TrainConfig.build(compile_settings(None, "reduce-overhead"))
    assert (graphs.compile, graphs.compile_mode) == (True, "reduce-overhead")
    assert TrainConfig.build({"compile": True}, compile_settings(None, None)).compile is True  # unset: not "off"
    assert TrainConfig.build(compile_settings(True, None)) == TrainConfig(compile=True)
    assert TrainConfig().compile is None  # the backend chooses (zoo-torch: docs/torch.md, "Execution modes")
    assert TrainConfig.build(compile_settings(False, None)).compile is False  # --no-compile: eager, always
    with pytest.raises(UsageError, match="--no-compile and --compile-mode reduce-overhead contradict"):
        compile_settings(False, "reduce-overhead")


def test_augmentations_come_from_one_table_and_an_unknown_name_is_refused() -> None:
    from zoo.api.augment import Augmentation
    from zoo.api.config import AUGMENTATIONS, TrainConfig
    from zoo.api.errors import UsageError

    assert AUGMENTATIONS == ("none", "crop-flip", "shift", "crop-flip-cutout")  # what --augment accepts
    assert Augmentation.named("shift") == Augmentation(crop_padding=2, horizontal_flip=False)
    assert Augmentation.named("crop-flip") == Augmentation(crop_padding=4, horizontal_flip=True)
    assert Augmentation.named("crop-flip-cutout") == Augmentation(crop_padding=4, horizontal_flip=True, cutout=14)
    assert not Augmentation.named("none").active and Augmentation(cutout=1).active
    with pytest.raises(UsageError, match="unknown augmentation 'mirror'; choose one of none, crop-flip, shift, crop-"):
        Augmentation.named("mirror")
    with pytest.raises(UsageError, match="`augment` must be one of"):
        TrainConfig(augment="mirror").validated()
