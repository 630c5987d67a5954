"""Regenerate ``zoo_timm/index.json`` from the installed timm: ``python -m zoo_timm.gen_index``.

For every name ``timm.list_models()`` returns, the index keeps what listing needs without timm:
the family (timm's module), the default input size and the paper from the default pretrained
config, whether pretrained weights exist on the Hugging Face hub, and an honest minimum input
size, found by building each model on the ``meta`` device (no weights allocated) and running it:

- The floor is the model's total stride (its last feature map's reduction, 32 for most CNNs; the
  patch size of a ViT): below it the last feature map is under a pixel. A model of any input size is
  run at the floor, then one pixel more, and so on up to its native size; the first size that runs is
  its minimum. (The search once doubled the size from the floor, and so missed every size a model
  needs that is not a power-of-two multiple of its stride: ``gemma4_vit_*_enc``, patch 16 times a
  pooling kernel of 3, runs at 48, not 768.)
- A model with a fixed input size (``fixed_input_size``: position embeddings or attention windows
  for one size) is built anew for each size tried, through timm's ``img_size`` argument: at the floor,
  then at each multiple of it, then at the sizes between the last multiple that failed and the first
  that ran. One that refuses ``img_size`` or never runs below its native size keeps the native size;
  ``img_size`` in the index says which ones zoo builds at the run's own size.

That takes several minutes on 2 cores. ``--spot-check N`` builds N models of the index on the CPU (with
weights) and checks that each runs at its listed minimum and, where the minimum is above the floor,
not one pixel below it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

INDEX = Path(__file__).with_name("index.json")


def runs(model: Any, in_chans: int, side: int, device: str = "meta") -> bool:
    """Whether ``model`` runs a forward pass of one ``side`` x ``side`` image."""
    import torch

    try:
        with torch.no_grad():
            model(torch.zeros((1, in_chans, side, side), device=device))
    except Exception:
        return False
    return True


def build(name: str, side: int | None = None, device: str = "meta") -> Any:
    """timm's ``name`` in eval mode on ``device``, for ``side`` px through ``img_size`` when given."""
    import timm
    import torch

    with torch.device(device):
        model = timm.create_model(name, **({"img_size": side} if side is not None else {}))
    return model.eval()


def floor_of(model: Any) -> int:
    """The model's total stride: its last feature map's reduction (32 when timm does not say)."""
    info = getattr(model, "feature_info", None)
    try:
        return max(1, int(info[-1]["reduction"])) if info else 32
    except (KeyError, TypeError, ValueError, IndexError):
        return 32


def first_running(works: Callable[[int], bool], floor: int, limit: int) -> int | None:
    """The first side in ``floor, 2*floor, ...`` (then the sizes between the last failed multiple and it)
    for which ``works(side)``; None when nothing up to ``limit`` runs."""
    side = floor
    while side <= limit:
        if works(side):
            for smaller in range(side - floor + 1, side):
                if smaller >= floor and works(smaller):
                    return smaller
            return side
        side += floor
    return None


def minimum(name: str, native: tuple[int, int, int], fixed: bool) -> tuple[int, bool]:
    """``(side, takes_img_size)``: the smallest square side at which ``name`` runs (see the module's
    docstring) and, for a fixed-size model, whether timm builds it at other sizes through ``img_size``."""
    in_chans, height, width = native
    limit = min(height, width)
    try:
        model = build(name)
    except Exception:
        return limit, False
    floor = floor_of(model)
    if not fixed:
        # One model serves every size: try them all, one pixel apart.
        found = next((side for side in range(floor, limit + 1) if runs(model, in_chans, side)), None)
        return (found or limit), False

    def at_size(side: int) -> bool:
        try:
            return runs(build(name, side), in_chans, side)
        except Exception:
            return False

    found = first_running(at_size, floor, limit - 1)
    return (found, True) if found is not None else (limit, False)


def entry(name: str, modules: dict[str, str]) -> dict[str, Any]:
    """One model's index entry."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    input_size = tuple(cfg.input_size) if cfg is not None and cfg.input_size else (3, 224, 224)
    fixed = bool(cfg is not None and cfg.fixed_input_size)
    side, img_size = minimum(name, input_size, fixed)
    paper = ""
    if cfg is not None:
        paper = "; ".join(p for p in (cfg.paper_name, cfg.paper_ids) if p) or ""
    return {
        "family": modules.get(name, ""),
        "input_size": list(input_size),
        "min_img_size": [side, side] if not fixed or img_size else list(input_size[1:]),
        "fixed": fixed,
        **({"img_size": True} if img_size else {}),  # only where true: listing reads every byte of the index
        "paper": paper,
        "license": (cfg.license or "") if cfg is not None else "",
        "hf_hub_id": (cfg.hf_hub_id or "") if cfg is not None else "",
    }


def generate() -> dict[str, Any]:
    """The whole index for the installed timm."""
    import timm

    modules = {name: module for module in timm.list_modules() for name in timm.list_models(module=module)}
    models = {}
    started = time.monotonic()
    names = timm.list_models()
    for number, name in enumerate(names, start=1):
        models[name] = entry(name, modules)
        if number % 100 == 0:
            print(f"{number}/{len(names)} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return {"timm": timm.__version__, "models": models}


def main(argv: list[str] | None = None) -> int:
    """Write the index (or, with ``--check``, say whether it matches the installed timm's names)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare names with timm.list_models(); write nothing")
    args = parser.parse_args(argv)
    if args.check:
        import timm

        stored = json.loads(INDEX.read_text())
        missing = sorted(set(timm.list_models()) - set(stored["models"]))
        extra = sorted(set(stored["models"]) - set(timm.list_models()))
        print(f"index of timm {stored['timm']}, installed {timm.__version__}: {len(missing)} missing, "
              f"{len(extra)} extra")
        return 1 if missing or extra else 0
    index = generate()
    text = json.dumps(index, indent=0, sort_keys=True, separators=(",", ":")) + "\n"
    tmp = INDEX.with_suffix(".json.tmp")
    tmp.write_text(text)
    tmp.replace(INDEX)
    print(f"wrote {INDEX} ({len(index['models'])} models of timm {index['timm']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
