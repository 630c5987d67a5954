"""Models from their names: built, or built and measured (layers, parameters, MACs)."""

from __future__ import annotations

from typing import Any

from zoo.api.backend import ModelSummary
from zoo.api.sizes import check_input_size
from zoo.plugins.backends import get_backend
from zoo.plugins.registry import get_registry
from zoo.run.memory import out_of_memory


def create_model(
    name: str,
    *,
    num_classes: int = 10,
    in_chans: int | None = None,
    img_size: tuple[int, int] | None = None,
) -> Any:
    """Build the framework model registered as ``name`` (a torch ``nn.Module``, a ``keras.Model``, ...)
    for images of ``img_size`` (H, W), the model's native size by default."""
    spec = get_registry().model(name).spec
    size = img_size or spec.img_size
    check_input_size(spec, size)
    return get_backend(spec.backend).build(spec, num_classes=num_classes, in_chans=in_chans or spec.in_chans,
                                           img_size=size)


def summarize_model(name: str, input_size: tuple[int, int, int], num_classes: int = 10) -> ModelSummary:
    """Build ``name`` for ``input_size`` (C, H, W) and measure layers, parameters and MACs."""
    spec = get_registry().model(name).spec
    check_input_size(spec, input_size[1:])
    with out_of_memory(batch_size=None, what=f"building {name} for {'x'.join(map(str, input_size))}"):
        return get_backend(spec.backend).summarize(spec, num_classes=num_classes, input_size=input_size)
