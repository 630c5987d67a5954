"""The generated index of timm's architectures (``index.json``) as zoo ModelSpecs, without timm.

``python -m zoo_timm.gen_index`` writes the index; this module only reads it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from zoo.api import CROSS_FRAMEWORK_PAIRS, ModelSpec

INDEX = Path(__file__).with_name("index.json")
PREFIX = "timm/"

# The architectures Keras Applications define too: timm's name -> the family both share
# (zoo compare --family resnet50 trains both). What differs is said in zoo.api.families.
PAIRS = {
    "resnet50": "resnet50",
    "mobilenetv2_100": "mobilenet_v2",
    "efficientnet_b0": "efficientnet_b0",
    "densenet121": "densenet121",
    "vgg16": "vgg16",
    "convnext_tiny": "convnext_tiny",
}


@functools.cache
def load_index() -> dict[str, Any]:
    """``{"timm": version, "models": {name: entry}}`` as generated."""
    return json.loads(INDEX.read_text(encoding="utf-8"))


def size_policy(entry: dict[str, Any]) -> str:
    """What zoo does with images below the model's minimum, for ``zoo info``."""
    _, height, width = entry["input_size"]
    side = entry["min_img_size"][0]
    if entry["fixed"] and entry.get("img_size"):
        return (f"timm builds it for one input size ({height}x{width} by default: position embeddings or attention "
                "windows sized for it), so zoo builds it at the run's own input size through timm's "
                "create_model(img_size=(H, W)): `zoo info --input 1x32x32` builds it at 32x32, and 28 px "
                f"Fashion-MNIST trains it at 28x28. Minimum input {side}x{side} px (the smallest size timm builds "
                "and runs, python -m zoo_timm.gen_index); data below it is resized up to the native "
                f"{height}x{width} on the device, as the AlexNets' is.")
    if entry["fixed"]:
        return (f"timm builds it for {height}x{width} inputs only (fixed_input_size: position embeddings or "
                f"attention windows sized for one input, and timm's img_size does not make it smaller), so that is "
                f"also its minimum: smaller data is resized up to {height}x{width} on the device, as the AlexNets' "
                "is.")
    why = ("the network's total stride" if side <= 32 else
           "the smallest size at or above the network's total stride at which it runs")
    return (f"Minimum input {side}x{side} px: {why}, found by running it (python -m zoo_timm.gen_index). Data "
            f"below it (28 px Fashion-MNIST) is resized up to the native {height}x{width} on the device, as the "
            f"AlexNets' is; --image-size {max(side, 32)} trains at that size instead.")


def timm_spec(name: str, entry: dict[str, Any] | None = None) -> ModelSpec:
    """The ModelSpec of timm's ``name`` (no ``timm/`` prefix)."""
    entry = entry or load_index()["models"][name]
    family = PAIRS.get(name, entry["family"])
    pair = CROSS_FRAMEWORK_PAIRS.get(family) if name in PAIRS else None
    notes = size_policy(entry)
    sized = ", img_size=(H, W)" if entry["fixed"] and entry.get("img_size") else ""
    if pair is not None:
        notes = f"{notes} Cross-framework pair of keras/{family} (zoo compare --family {family}): {pair}"
    return ModelSpec(
        name=PREFIX + name,
        backend="torch",
        family=family,
        variant=name if name in PAIRS and family != name else "",
        builder=f"zoo_timm.models:{name}",
        summary=entry["paper"] or f"timm's {entry['family']} module",
        input_size=tuple(entry["input_size"]),
        min_img_size=tuple(entry["min_img_size"]),
        reference=entry["paper"] or "timm (pytorch-image-models)",
        license=entry["license"] or "see timm",
        notes=notes + f" Built by timm.create_model({name!r}, num_classes=..., in_chans=...{sized})." + (
            f" --pretrained reads model.safetensors of {entry['hf_hub_id']} (Hugging Face cache) or --weights FILE."
            if entry["hf_hub_id"] else " timm publishes no pretrained weights for it."),
        pretrained="zoo_timm.pretrained:load" if entry["hf_hub_id"] else "",
    )


def specs() -> list[ModelSpec]:
    """Every indexed architecture's spec."""
    return [timm_spec(name, entry) for name, entry in load_index()["models"].items()]
