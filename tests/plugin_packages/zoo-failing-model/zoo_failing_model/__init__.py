"""Registers a torch model whose builder raises, as a broken third-party model would, and one whose
builder kills its process, as the kernel's out-of-memory killer would."""

import os
import signal

from zoo import ModelSpec, hookimpl


def build(*, num_classes, in_chans, input_size):
    raise RuntimeError("this network's builder is broken")


def build_and_die(*, num_classes, in_chans, input_size):
    os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def zoo_register_models(register):
    register(
        ModelSpec(
            name="broken-torch", backend="torch", family="broken", builder="zoo_failing_model:build",
            input_size=(1, 28, 28), min_img_size=(8, 8), summary="always fails to build",
        )
    )
    register(
        ModelSpec(
            name="killed-torch", backend="torch", family="broken", builder="zoo_failing_model:build_and_die",
            input_size=(1, 28, 28), min_img_size=(8, 8), summary="its worker is killed building it",
        )
    )
    register(
        ModelSpec(
            name="orphan-jaxx", backend="jaxx", family="orphan", builder="zoo_failing_model:build",
            input_size=(1, 28, 28), summary="needs a backend no plugin provides",
        )
    )
