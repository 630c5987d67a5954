"""Spot-check zoo-timm's minimum input sizes on the CPU, with real (randomly initialised) weights.

For each model: built as zoo builds it (10 classes, 1 input channel; a fixed-size model the index marks
``img_size`` is built for each size through timm's ``img_size``), it must run a forward pass at its listed
minimum; one pixel below, it must fail, unless the minimum is the model's total stride (the floor the
search starts from: below it the last feature map is under a pixel, so zoo does not go there), or unless it
is a fixed-size model fed its native size (no ``img_size``). A model that runs on no 1-channel input at
all is checked on 3 channels and said to be so. The index
was found on the ``meta`` device (``python -m zoo_timm.gen_index``); this checks that on real tensors.

    .venv/bin/python benchmarks/check_timm_minimums.py            # the default sample (about 40 models)
    .venv/bin/python benchmarks/check_timm_minimums.py NAME ...   # these models

Exit status 1 when a model does not run at its minimum or runs below a minimum above its floor.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

# Every minimum that is not a plain stride-32 CNN's, a few of those, and fixed-size models of each kind.
SAMPLE = [
    # the search's hard cases: sizes that are not a power-of-two multiple of the stride
    "gemma4_vit_167m_enc", "inception_v3", "inception_v4", "inception_resnet_v2", "halonet26t", "haloregnetz_b",
    "eca_halonext26ts", "ghostnetv2_100", "ghostnetv3_050", "selecsls42b", "efficientvim_m1", "shvit_s1",
    "fastvit_mci3", "csatv2", "bat_resnext26ts",
    # strides other than 32
    "mobilevitv2_050", "levit_128s", "pit_ti_224", "visformer_tiny", "coat_lite_tiny",
    # stride-32 CNNs
    "resnet18", "mobilenetv2_100", "efficientnet_b0", "convnext_atto", "regnetx_002", "test_resnet",
    # fixed-size models through timm's img_size
    "vit_tiny_patch16_224", "deit_tiny_patch16_224", "test_vit", "swin_tiny_patch4_window7_224",
    "eva02_tiny_patch14_224", "beit_base_patch16_224", "cait_xxs24_224", "xcit_nano_12_p16_224",
    "maxvit_nano_rw_256", "coatnet_nano_rw_224", "tiny_vit_5m_224", "flexivit_small", "vit_small_patch14_dinov2",
    "crossvit_tiny_240",
]


def _run(name: str, side: int, img_size: bool, model: Any = None, in_chans: int = 1) -> tuple[bool, Any]:
    """Whether ``name`` runs one in_chans x side x side image (built anew at ``side`` when ``img_size``)."""
    import timm
    import torch

    try:
        if model is None or img_size:
            model = timm.create_model(name, num_classes=10, in_chans=in_chans,
                                      **({"img_size": side} if img_size else {})).eval()
        with torch.no_grad():
            model(torch.zeros((1, in_chans, side, side)))
    except Exception:
        return False, model
    return True, model


def check(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """One model's row: its minimum, its floor, and whether it runs at the minimum and one pixel below."""
    from zoo_timm.gen_index import floor_of

    side = entry["min_img_size"][0]
    img_size = bool(entry.get("img_size"))
    started = time.monotonic()
    in_chans = 1
    at_min, model = _run(name, side, img_size)
    if not at_min and not _run(name, min(entry["input_size"][1:]), False)[0]:
        in_chans = 3  # it takes no other channel count at any size (csatv2): check the size on 3 channels
        at_min, model = _run(name, side, img_size, in_chans=in_chans)
    floor = floor_of(model) if model is not None else 0
    below, _ = _run(name, side - 1, img_size, model, in_chans) if side > 1 else (False, None)
    # A fixed-size model without img_size is fed its native size whatever runs below it (crossvit
    # resizes its input itself); the check is then that it runs there.
    fixed_native = entry["fixed"] and not img_size
    ok = at_min and (not below or side <= floor or fixed_native)
    return {"model": name, "fixed": entry["fixed"], "img_size": img_size, "floor": floor, "minimum": side,
            "in_chans": in_chans, "runs_at_min": at_min, "runs_below": below, "fixed_native": fixed_native,
            "ok": ok, "seconds": time.monotonic() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"timm model names [{len(SAMPLE)} by default]")
    args = parser.parse_args(argv)
    import torch

    from zoo_timm.index import load_index

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    index = load_index()["models"]
    rows = [check(name, index[name]) for name in (args.names or SAMPLE)]
    print(f"{'model':34} {'fixed':>5} {'img_size':>8} {'floor':>5} {'min':>4} {'at min':>6} {'min-1':>6}  verdict")
    for row in rows:
        verdict = "ok" if row["ok"] else "WRONG"
        if row["runs_below"] and row["fixed_native"]:
            verdict += " (fixed size: fed its native size)"
        elif row["runs_below"] and row["minimum"] <= row["floor"]:
            verdict += " (floor: the stride)"
        if row["in_chans"] != 1:
            verdict += f" ({row['in_chans']} channels only)"
        print(f"{row['model']:34} {row['fixed']!s:>5} {row['img_size']!s:>8} {row['floor']:>5} {row['minimum']:>4} "
              f"{'runs' if row['runs_at_min'] else 'FAILS':>6} {'runs' if row['runs_below'] else 'fails':>6}  "
              f"{verdict}")
    wrong = [row["model"] for row in rows if not row["ok"]]
    print(f"{len(rows) - len(wrong)} of {len(rows)} as listed" + (f"; wrong: {', '.join(wrong)}" if wrong else ""))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
