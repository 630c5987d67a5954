"""Parity of ``zoo convert`` and ``zoo export``: max |logit difference| and top-1 agreement per variant.

Each torch model is trained briefly on real Fashion-MNIST (one epoch on 512 images; the classic
AlexNet at its 67 px minimum), converted to its Keras twin on the active Keras backend
(``KERAS_BACKEND``) and exported to ONNX; both are compared with the torch checkpoint on the
first 1,000 test images. The Keras twin is exported too, through Keras' own exporter on that
backend (``keras_onnx``: onnxruntime against the Keras twin; on JAX, the refusal). Prints one JSON
line per model. Figures: docs/convert.md.

    KERAS_BACKEND=tensorflow .venv/bin/python benchmarks/convert_parity.py
    KERAS_BACKEND=torch .venv/bin/python benchmarks/convert_parity.py lenet5-torch alexnet-torch-small
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

MODELS = {"alexnet-torch": 67, "alexnet-torch-bn": 28, "alexnet-torch-res": 28, "alexnet-torch-small": 28,
          "lenet5-torch": 28}


def main(argv: list[str]) -> None:
    from zoo.api import UsageError
    from zoo.run.convert import convert_checkpoint
    from zoo.run.onnx_export import export_checkpoint
    from zoo.run.training import train
    from zoo_keras.runtime import keras  # the import that keeps TensorFlow and torch apart (see its docs)

    names = argv or list(MODELS)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            recipe = {"epochs": 1, "limit": 512, "limit_test": 100, "batch_size": 64, "image_size": MODELS[name],
                      "min_image_size": None, "augment": "none", "scheduler": "none", "device": "cpu"}
            source = Path(tmp) / name
            train(name, "fashion-mnist", overrides=recipe, output=source, record=False)
            keras_twin = convert_checkpoint(source, to="keras", check_images=1000, record=False)
            onnx = export_checkpoint(source, output=Path(tmp) / f"{name}.onnx", check_images=1000)
            try:  # Keras' own ONNX export of the converted twin, on the active Keras backend
                keras_onnx = export_checkpoint(keras_twin.target.directory, output=Path(tmp) / f"{name}-keras.onnx",
                                               check_images=1000).parity.to_dict()
            except UsageError as exc:  # Keras on JAX: no exporter
                keras_onnx = {"refused": str(exc)}
            print(json.dumps({"model": name, "img_size": MODELS[name], "keras_backend": keras.backend.backend(),
                              "keras": keras_twin.parity.to_dict(), "onnx": onnx.parity.to_dict(),
                              "keras_onnx": keras_onnx}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
