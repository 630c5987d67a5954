"""The plugin contract: one hook per capability.

A plugin is a module (named by an entry point in the ``zoo.plugins`` group)
with functions marked ``@zoo.hookimpl``. Each hook receives a ``register``
callable and calls it once per record; records are frozen dataclasses from
:mod:`zoo.specs`. Hooks must be cheap: no framework import, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from zoo.api.specs import BackendSpec, DatasetSpec, ModelSpec

PROJECT = "zoo"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register the models this plugin provides.

    Call ``register`` once per :class:`~zoo.specs.ModelSpec`. The builder is a
    ``"package.module:function"`` string, imported only when a model is built,
    so ``zoo list`` stays instant. A name another plugin already registered is
    refused and reported, naming both distributions.

    Example:
        .. code-block:: python

            from zoo.api import ModelSpec, hookimpl

            @hookimpl
            def zoo_register_models(register):
                register(ModelSpec(
                    name="lenet5-torch", backend="torch", family="lenet5",
                    builder="zoo_lenet.torch_models:lenet5",
                    summary="LeNet-5 (LeCun et al., 1998)",
                    input_size=(1, 32, 32), min_img_size=(28, 28),
                ))
    """


@hookspec
def zoo_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register the datasets this plugin provides.

    Call ``register`` once per :class:`~zoo.specs.DatasetSpec`. The loader is a
    ``"package.module:function"`` string that reads a directory holding the
    spec's files and returns uint8 NHWC arrays; zoo finds, downloads, verifies
    and caches the files before calling it.

    Example:
        .. code-block:: python

            from zoo.api import DataFile, DatasetSpec, hookimpl

            @hookimpl
            def zoo_register_datasets(register):
                register(DatasetSpec(
                    name="digits", loader="zoo_lenet.digits:load",
                    files=(), classes=tuple("0123456789"), shape=(32, 32, 1),
                    mean=(0.25,), std=(0.35,),
                ))
    """


@hookspec
def zoo_register_backends(register: Callable[[BackendSpec], None]) -> None:
    """Register the framework backends this plugin provides.

    Call ``register`` once per :class:`~zoo.specs.BackendSpec`. Its factory,
    imported only when a model of that backend is built or trained, returns
    an object implementing :class:`zoo.backend.Backend`.

    Example:
        .. code-block:: python

            from zoo.api import BackendSpec, hookimpl

            @hookimpl
            def zoo_register_backends(register):
                register(BackendSpec(
                    name="torch", framework="PyTorch",
                    factory="zoo_torch.backend:TorchBackend",
                ))
    """
