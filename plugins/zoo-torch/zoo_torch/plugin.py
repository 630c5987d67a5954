"""zoo's entry point for zoo-torch: registers the backend and the models.

Only metadata here: importing this module must not import torch.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo.api import BackendSpec, ModelSpec, alexnet_specs, hookimpl

zoo_plugin_api = ">=2.0,<3"  # the zoo plugin API versions this plugin is written for


@hookimpl
def zoo_register_backends(register: Callable[[BackendSpec], None]) -> None:
    """The PyTorch backend."""
    register(
        BackendSpec(
            name="torch",
            framework="PyTorch",
            factory="zoo_torch.backend:TorchBackend",
            summary="PyTorch: device-resident data, bf16 autocast, channels_last, torch.compile",
        )
    )


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """The four AlexNet variants, built by ``zoo_torch.models``."""
    for spec in alexnet_specs("torch", "zoo_torch.models"):
        register(spec)
