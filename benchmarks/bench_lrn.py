"""Local response normalisation: the stock implementation against zoo's, per layer and in classic AlexNet.

zoo-torch's ``LocalResponseNorm`` is ``torch.nn.LocalResponseNorm``'s maths with
a hand-written backward (three saved tensors, in-place window sums) instead of
autograd through pad, ``avg_pool3d``, ``pow`` and a division. zoo-keras'
``LocalResponseNormalization`` runs TensorFlow's fused LRN op on the
TensorFlow backend instead of differentiating a ``keras.ops`` sum of slices.

Two measurements per backend, the two sides alternating for ``--rounds``
rounds, medians, in one run:

1. the layer alone, forward + backward, at classic AlexNet's two LRN inputs
   (96x55x55 after conv1, 256x27x27 after conv2, batch ``--layer-batch``), in
   zoo's layout for the device (torch: channels_last; Keras: channels-last);
2. classic ``alexnet-torch`` / ``alexnet-keras`` at 3x227x227 through the
   backend's own benchmark (``zoo bench``: training step and inference, batch
   ``--batch``), once with the stock layer swapped into the model builder and
   once as zoo ships it.

    .venv/bin/python benchmarks/bench_lrn.py                          # both backends on the CPU, ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_lrn.py --backends torch --device cuda --precision bf16 --batch 256
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from zoo import get_backend, get_spec
from zoo.api.backend import BenchConfig

SHAPES = ((96, 55, 55), (256, 27, 27))  # (channels, height, width) entering lrn1 and lrn2 at 227 px
LRN_ARGS = (5, 1e-4, 0.75, 2.0)  # size, alpha, beta, k


def median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


# --- torch ---------------------------------------------------------------------------------------------


def torch_layer_rows(device_name: str, precision: str, batch: int, rounds: int, steps: int) -> list[list[str]]:
    import torch

    from zoo_torch.layers import LocalResponseNorm

    device = torch.device(device_name)
    sides = {"stock": torch.nn.LocalResponseNorm(*LRN_ARGS), "zoo": LocalResponseNorm(*LRN_ARGS)}
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    rows = []
    for channels, height, width in SHAPES:
        x = torch.relu(torch.randn(batch, channels, height, width, device=device, dtype=dtype))
        x = x.contiguous(memory_format=torch.channels_last).requires_grad_()
        steps_by_side = {name: torch_layer_step(layer, x, torch.randn_like(x)) for name, layer in sides.items()}
        rows.append(layer_row(f"{channels}x{height}x{width}", alternate(steps_by_side, rounds, steps)))
    return rows


def torch_layer_step(layer: Any, x: Any, grad: Any) -> Callable[[], None]:
    """One forward + backward of ``layer`` at ``x``, finished before it returns."""
    import torch

    def step() -> None:
        x.grad = None
        layer(x).backward(grad)
        if x.device.type == "cuda":
            torch.cuda.synchronize()

    return step


@contextlib.contextmanager
def torch_stock_lrn() -> Iterator[None]:
    """Build classic alexnet-torch with ``torch.nn.LocalResponseNorm`` while the block runs."""
    import torch

    from zoo_torch import models

    shipped = models.LocalResponseNorm
    models.LocalResponseNorm = torch.nn.LocalResponseNorm
    try:
        yield
    finally:
        models.LocalResponseNorm = shipped


# --- keras ---------------------------------------------------------------------------------------------


def keras_layer_rows(device_name: str, precision: str, batch: int, rounds: int, steps: int) -> list[list[str]]:
    import tensorflow as tf

    from zoo_keras.layers import lrn_ops, lrn_tensorflow
    from zoo_keras.training import jit_compile

    jit = jit_compile(False, device_name) is True  # zoo's XLA choice for the device
    dtype = tf.bfloat16 if precision == "bf16" else tf.float32
    rows = []
    for channels, height, width in SHAPES:
        x = tf.nn.relu(tf.random.normal((batch, height, width, channels), seed=0, dtype=dtype))
        grad = tf.random.normal(x.shape, seed=1, dtype=dtype)
        steps_by_side = {"stock": keras_layer_step(lrn_ops, x, grad, jit),
                         "zoo": keras_layer_step(lrn_tensorflow, x, grad, jit)}
        rows.append(layer_row(f"{channels}x{height}x{width}", alternate(steps_by_side, rounds, steps)))
    return rows


def keras_layer_step(lrn: Callable[..., Any], x: Any, grad: Any, jit: bool) -> Callable[[], None]:
    """One traced forward + backward of the LRN function ``lrn`` at ``x``, finished before it returns."""
    import tensorflow as tf

    @tf.function(jit_compile=jit)
    def forward_backward(x: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = lrn(x, *LRN_ARGS)
        return tape.gradient(out, x, output_gradients=grad)

    return lambda: forward_backward(x).numpy()


@contextlib.contextmanager
def keras_stock_lrn() -> Iterator[None]:
    """Build classic alexnet-keras with the portable ``keras.ops`` LRN while the block runs."""
    from zoo_keras import layers, models

    class PortableLRN(layers.LocalResponseNormalization):
        def call(self, inputs: Any) -> Any:
            return layers.lrn_ops(inputs, self.size, self.alpha, self.beta, self.k)

    shipped = models.LocalResponseNormalization
    models.LocalResponseNormalization = PortableLRN
    try:
        yield
    finally:
        models.LocalResponseNormalization = shipped


# --- shared ------------------------------------------------------------------------------------------------


def alternate(sides: dict[str, Callable[[], None]], rounds: int, steps: int) -> dict[str, list[float]]:
    """Each side's step timed ``steps`` times per round after one untimed call, sides alternating."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, step in sides.items():
            step()
            for _ in range(steps):
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return times


def layer_row(shape: str, times: dict[str, list[float]]) -> list[str]:
    stock, zoo = median_ms(times["stock"]), median_ms(times["zoo"])
    return [shape, f"{stock:.1f}", f"{zoo:.1f}", f"{stock / zoo:.2f}x"]


def model_rows(backend: str, stock_lrn: Callable[[], Any], config: BenchConfig, rounds: int) -> list[list[str]]:
    """Classic AlexNet through the backend's benchmark, stock and zoo LRN alternating; median img/s per mode."""
    spec = get_spec(f"alexnet-{backend}")
    runner = get_backend(spec.backend)
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for side in ("stock", "zoo"):
            with stock_lrn() if side == "stock" else contextlib.nullcontext():
                for row in runner.benchmark(spec, config):
                    rates.setdefault((side, row.mode), []).append(row.samples_per_sec)
    rows = []
    for mode in ("train", "infer"):
        stock, zoo = statistics.median(rates[("stock", mode)]), statistics.median(rates[("zoo", mode)])
        rows.append([f"{spec.name} {mode}", f"{stock:.1f}", f"{zoo:.1f}", f"{zoo / stock:.2f}x"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="torch,keras", help="comma-separated: torch, keras")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--layer-batch", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16, help="classic AlexNet's batch (227 px)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="timed layer steps per side per round")
    parser.add_argument("--model-steps", type=int, default=3, help="timed model steps per side per round")
    parser.add_argument("--compile", action="store_true", help="torch.compile / XLA in the model measurement")
    args = parser.parse_args()

    print(f"{platform.processor() or platform.machine()}, device {args.device}, {args.precision}, "
          f"{args.rounds} rounds, sides alternating")
    config = BenchConfig((3, 227, 227), 1000, args.batch, device=args.device, precision=args.precision,
                         compile=args.compile, warmup_steps=1, timed_steps=args.model_steps)
    plans = {
        "torch": (torch_layer_rows, torch_stock_lrn, "torch.nn.LocalResponseNorm", "zoo_torch LocalResponseNorm"),
        "keras": (keras_layer_rows, keras_stock_lrn, "keras.ops slices", "tf.nn LRN op"),
    }
    for backend in args.backends.split(","):
        layer_rows, stock_lrn, stock_name, zoo_name = plans[backend]
        print(f"\n{backend}: LRN forward + backward, batch {args.layer_batch} (ms, median)\n")
        rows = layer_rows(args.device, args.precision, args.layer_batch, args.rounds, args.steps)
        print(table(["input (CxHxW)", stock_name, zoo_name, "speed-up"], rows))
        print(f"\n{backend}: classic AlexNet at 3x227x227, batch {args.batch} (images/s, median of rounds)\n")
        rows = model_rows(backend, stock_lrn, config, args.rounds)
        print(table(["model, mode", f"with {stock_name}", f"with {zoo_name}", "ratio"], rows))


if __name__ == "__main__":
    main()
