"""Pretrained timm weights from local copies only, and never by unpickling.

The file is ``weights`` (a ``.safetensors`` file) when given, else ``model.safetensors`` of the model's
Hugging Face repository (``timm/resnet18.a1_in1k``) in the local Hugging Face cache. Nothing is
downloaded: without a copy, one line says where to put it. timm adapts the weights to the model
as its ``create_model(pretrained=True)`` does: the first conv summed or repeated to the input
channels, the classifier left freshly initialised when the class count differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.api import UsageError, ZooError, describe_error


def cached_file(repo_id: str) -> Path | None:
    """``model.safetensors`` of ``repo_id`` in the local Hugging Face cache, or None."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "model.safetensors")
    return Path(found) if isinstance(found, str) else None


def where_to_put(architecture: str, repo_id: str) -> str:
    """The one line naming where the weights go."""
    from huggingface_hub import constants

    return (f"no local copy of timm's {architecture} weights: put {repo_id}'s model.safetensors in the Hugging Face "
            f"cache ({constants.HF_HUB_CACHE}; `hf download {repo_id} model.safetensors` does it where there is a "
            "network) or pass `weights` FILE.safetensors")


def weights_file(architecture: str, repo_id: str, weights: str | None) -> Path:
    """The safetensors file to read: ``weights``, else the cached copy."""
    if weights is None:
        found = cached_file(repo_id) if repo_id else None
        if found is None:
            raise UsageError(where_to_put(architecture, repo_id or f"timm/{architecture}"))
        return found
    path = Path(weights).expanduser()
    if path.suffix != ".safetensors":
        raise UsageError(f"`weights` {weights} is not a .safetensors file: timm weights are read only as "
                         "safetensors (pickled .pth/.bin files are never loaded)")
    if not path.is_file():
        raise UsageError(f"`weights` {weights} does not exist; give the path of a .safetensors file")
    return path


def load(model: Any, *, weights: str | None = None) -> None:
    """Load pretrained weights into ``model``, a timm model zoo built (see the module's docstring)."""
    import timm
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    cfg = dict(model.pretrained_cfg)
    architecture = cfg["architecture"]
    path = weights_file(architecture, cfg.get("hf_hub_id") or "", weights)
    try:
        state = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ZooError(f"cannot read {path} as safetensors ({describe_error(exc)}); is it timm's "
                       f"{architecture} model.safetensors?") from exc
    first_conv = model.get_submodule(cfg["first_conv"]) if cfg.get("first_conv") else None
    in_chans = getattr(first_conv, "in_channels", 3)
    # A fixed-size model zoo built at another size: timm resamples the position embeddings to it.
    sized = {"img_size": model.zoo_img_size} if getattr(model, "zoo_img_size", None) else {}
    try:
        source = timm.create_model(architecture, pretrained=True, num_classes=model.num_classes, in_chans=in_chans,
                                   **sized,
                                   pretrained_cfg_overlay={"state_dict": state, "file": None, "url": None})
        model.load_state_dict(source.state_dict())
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ZooError(f"the weights in {path} do not fit timm's {architecture}: "
                       f"{describe_error(exc).splitlines()[0][:300]}") from exc
