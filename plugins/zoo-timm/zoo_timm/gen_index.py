"""Regenerate ``zoo_timm/index.json`` from the installed timm: ``python -m zoo_timm.gen_index``.

For every name ``timm.list_models()`` returns, the index keeps what listing needs without timm:
the family (timm's module), the default input size and the paper from the default pretrained
config, whether pretrained weights exist on the Hugging Face hub, and an honest minimum input
size. The minimum: a model with a fixed input size (``fixed_input_size``, position embeddings or
windows for one size) takes its native size only; any other is built on the ``meta`` device and
run at its last feature map's reduction (its total stride, 32 for most CNNs), then at twice that,
and so on up to its native size, and the first size that runs is its minimum. That takes a few
minutes (no weights are allocated).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

INDEX = Path(__file__).with_name("index.json")


def _runs(model: Any, in_chans: int, side: int) -> bool:
    import torch

    try:
        with torch.no_grad():
            model(torch.empty((1, in_chans, side, side), device="meta"))
    except Exception:
        return False
    return True


def minimum_side(name: str, native: tuple[int, int, int]) -> int:
    """The smallest square side (H = W) at which ``name`` runs: its total stride, doubled until it runs."""
    import timm
    import torch

    in_chans, height, width = native
    limit = min(height, width)
    try:
        with torch.device("meta"):
            model = timm.create_model(name)
        model.eval()
        info = getattr(model, "feature_info", None)
        side = int(info[-1]["reduction"]) if info else 32
    except Exception:
        return limit
    while side < limit:
        if _runs(model, in_chans, side):
            return side
        side *= 2
    return limit


def entry(name: str, modules: dict[str, str]) -> dict[str, Any]:
    """One model's index entry."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    input_size = tuple(cfg.input_size) if cfg is not None and cfg.input_size else (3, 224, 224)
    fixed = bool(cfg is not None and cfg.fixed_input_size)
    side = min(input_size[1:]) if fixed else minimum_side(name, input_size)
    paper = ""
    if cfg is not None:
        paper = "; ".join(p for p in (cfg.paper_name, cfg.paper_ids) if p) or ""
    return {
        "family": modules.get(name, ""),
        "input_size": list(input_size),
        "min_img_size": [side, side] if not fixed else list(input_size[1:]),
        "fixed": fixed,
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
