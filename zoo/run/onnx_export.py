"""``zoo export``: a checkpoint as an ONNX graph, checked with onnxruntime before it is published.

The backend exports (``torch.onnx.export``; Keras 3's ``model.export(format="onnx")``)
into a hidden file beside the output; onnxruntime then runs it on real test
images of the checkpoint's dataset and its logits are compared with the
framework's. Only a graph giving the same top-1 predictions is renamed into
place. The graph's input is the preprocessed image batch in the backend's
layout (``image`` NCHW for torch, NHWC for Keras), batch axis dynamic; its
output is the logits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.api.errors import UsageError, ZooError
from zoo.run.checkpoint import Checkpoint, disk_errors, load_checkpoint, read_checkpoint
from zoo.run.convert import Parity, compare_logits, test_images

FORMATS = ("onnx",)
DEFAULT_OPSET = 18
OPSETS = range(13, 22)


@dataclass(frozen=True)
class Export:
    """An exported graph and how closely onnxruntime reproduces the checkpoint."""

    checkpoint: Checkpoint
    path: Path
    opset: int
    parity: Parity


def default_output(checkpoint: Checkpoint) -> Path:
    """``model.onnx`` inside the checkpoint's folder."""
    return checkpoint.directory / "model.onnx"


def onnx_logits(path: Path, inputs: np.ndarray, layout: str, *, batch_size: int = 256) -> np.ndarray:
    """onnxruntime's logits (CPU) for NHWC ``inputs``, transposed to NCHW for a torch-layout graph."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name, batch = session.get_inputs()[0].name, session.get_inputs()[0].shape[0]
    fixed = batch if isinstance(batch, int) else None  # a graph exported for a fixed batch (Keras on PyTorch)
    step = fixed or batch_size
    x = inputs.transpose(0, 3, 1, 2) if layout == "torch" else inputs
    outputs = []
    for i in range(0, len(x), step):
        chunk = np.ascontiguousarray(x[i:i + step])
        short = step - len(chunk) if fixed else 0  # the last chunk, padded to the graph's batch
        padded = np.concatenate([chunk, np.zeros((short, *chunk.shape[1:]), chunk.dtype)]) if short else chunk
        outputs.append(session.run(None, {name: padded})[0][:len(chunk)])
    return np.concatenate(outputs).astype(np.float32, copy=False)


def _checked_logits(path: Path, inputs: np.ndarray, layout: str, model: str) -> np.ndarray:
    """:func:`onnx_logits`, with onnxruntime refusing the graph as a one-line error (e.g. jax2onnx 0.17's
    MaxPool over all four NHWC axes, which onnxruntime does not run)."""
    try:
        return onnx_logits(path, inputs, layout)
    except Exception as exc:  # onnxruntime's errors (Fail, InvalidArgument, ...) share no public base class
        reason = " ".join(str(exc).split())[:200]
        raise ZooError(f"onnxruntime cannot run the graph exported for {model} ({reason}); nothing written; "
                       "export it with another exporter (zoo-keras: --keras-backend tensorflow or torch)") from None


def export_checkpoint(
    path: str | Path,
    *,
    fmt: str = "onnx",
    opset: int = DEFAULT_OPSET,
    output: str | Path | None = None,
    overwrite: bool = False,
    check_images: int = 1000,
    data_dir: str | Path | None = None,
) -> Export:
    """Export the checkpoint at ``path`` to ``output`` (default ``<checkpoint>/model.onnx``) after
    onnxruntime gives its top-1 predictions on ``check_images`` real test images."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not an export format; choose {', '.join(FORMATS)}")
    if opset not in OPSETS:
        raise UsageError(f"--opset {opset} is outside {OPSETS.start}..{OPSETS.stop - 1}, the opsets zoo exports")
    if check_images < 1:
        raise UsageError(f"--check must be at least 1 image, got {check_images}")
    checkpoint = read_checkpoint(path)
    target = Path(output) if output is not None else default_output(checkpoint)
    if target.is_dir():
        raise UsageError(f"--output {target} is a folder; pass a file name such as {target / 'model.onnx'}")
    if target.exists() and not overwrite:
        raise UsageError(f"{target} already exists; pass --overwrite to replace it, or --output with a new file")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise UsageError("zoo export checks the graph with onnxruntime, which is not installed; "
                         "pip install 'zoo[onnx]'") from None
    inputs = test_images(checkpoint, check_images, data_dir)
    checkpoint, _spec, backend, model = load_checkpoint(checkpoint)
    if not hasattr(backend, "export_onnx") or not hasattr(backend, "logits"):
        raise UsageError(f"backend {backend.name!r} cannot export ONNX")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial-{os.getpid()}{target.suffix or '.onnx'}")
    try:
        with disk_errors(f"cannot write {target}"):
            backend.export_onnx(model, partial, example=inputs[:1], opset=opset)
        parity = compare_logits(backend.logits(model, inputs, batch_size=256),
                                _checked_logits(partial, inputs, backend.layout, checkpoint.model))
        if parity.top1_agreement < 1.0:
            raise ZooError(f"onnxruntime's top-1 predictions differ from {checkpoint.model}'s on "
                           f"{1 - parity.top1_agreement:.2%} of {parity.images:,} test images (max |logit "
                           f"difference| {parity.max_abs_logit_diff:.3g}); nothing written")
        with disk_errors(f"cannot write {target}"):
            os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Export(checkpoint, target, opset, parity)
