"""zoo's entry point for zoo-keras: registers the backend and the models.

Only metadata here: importing this module must not import keras or tensorflow.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo.api import BackendSpec, ModelSpec, alexnet_specs, hookimpl

zoo_plugin_api = ">=2.1,<3"  # the zoo plugin API versions this plugin is written for


@hookimpl
def zoo_register_backends(register: Callable[[BackendSpec], None]) -> None:
    """The Keras 3 backend (TensorFlow by default; ``KERAS_BACKEND`` picks jax or torch)."""
    register(
        BackendSpec(
            name="keras",
            framework="Keras 3",
            factory="zoo_keras.backend:KerasBackend",
            summary="Keras 3: model.fit on tf.data, XLA where it pays, .keras checkpoints",
        )
    )


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """The four AlexNet variants, built by ``zoo_keras.models``, and the Keras Applications as ``keras/<name>``
    (``zoo_keras.applications``)."""
    from zoo_keras.application_specs import specs

    for spec in [*alexnet_specs("keras", "zoo_keras.models"), *specs()]:
        register(spec)
