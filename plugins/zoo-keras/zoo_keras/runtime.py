"""Importing Keras quietly and once, and resolving devices.

Every zoo-keras module that needs Keras imports it from here, so the
environment is set before TensorFlow loads: ``TF_CPP_MIN_LOG_LEVEL=2``, the
C++ start-up banners kept off stderr; ``TF_ENABLE_ONEDNN_OPTS=1`` unless the
user set it (see ``ONEDNN_ENV``); and memory growth switched on for every
GPU (TensorFlow would otherwise reserve all GPU memory at the first op).
``KERAS_BACKEND`` (tensorflow, jax or torch; ``zoo ... --keras-backend NAME``
sets it) is checked before Keras is imported and respected; TensorFlow is the
default, as in Keras itself.

TensorFlow 2.20/2.21 wheels load their core library with ``RTLD_GLOBAL``,
which makes a later ``import triton`` (pulled in by torch, timm and
torchvision) crash the interpreter with SIGSEGV: tensorflow/tensorflow#124205,
fixed upstream by loading shared wheels with ``RTLD_LOCAL`` (PR #124230). Here
the same fix is applied at import time (the helper module that asks for
``RTLD_GLOBAL`` is made unimportable while TensorFlow loads), so zoo-keras and
zoo-torch can share one process, in either import order.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import platform
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from zoo.api import UsageError
from zoo_keras.compile_cache import setting as compile_cache_setting
from zoo_keras.compile_cache import use_compile_cache

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow turns its oneDNN CPU kernels on by itself only on CPUs with AVX512-VNNI, AVX512-BF16 or AMX;
# elsewhere (AVX2 CPUs such as AMD's Zen 3) it runs Eigen's, which trained the AlexNet variants 1.4-1.8x
# and lenet5-keras 2.2x slower (docs/keras.md). PyTorch uses oneDNN on every x86 CPU, so without this a
# comparison would report TensorFlow's default kernel choice as Keras' speed. A user's value is kept.
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
os.environ.setdefault(ONEDNN_ENV, "1")


def _debug() -> bool:
    return os.environ.get("ZOO_DEBUG", "") not in ("", "0")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while native libraries load.

    TensorFlow 2.21 logs "oneDNN custom operations are on" through absl before
    logging is initialised, ignoring ``TF_CPP_MIN_LOG_LEVEL``. Python errors are
    exceptions and still surface. ``ZOO_DEBUG=1`` keeps everything.
    """
    if _debug():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def quiet_numpy_copy_warning() -> Iterator[None]:
    """Keras 3.15 turns TensorFlow variables into numpy with ``np.array(variable)``, which numpy 2
    answers with a DeprecationWarning per variable; it is Keras' to fix and says nothing to users."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"__array__ implementation doesn't accept a copy keyword",
                                category=DeprecationWarning)
        yield


_GLOBAL_FLAGS = "tensorflow.python.pywrap_dlopen_global_flags"


@contextlib.contextmanager
def _tensorflow_rtld_local() -> Iterator[None]:
    """Load TensorFlow with RTLD_LOCAL, as its shared wheels should (tensorflow/tensorflow#124205)."""
    if "tensorflow" in sys.modules or _GLOBAL_FLAGS in sys.modules:
        yield
        return
    sys.modules[_GLOBAL_FLAGS] = None  # type: ignore[assignment] - makes its import raise ImportError
    try:
        yield
    finally:
        if sys.modules.get(_GLOBAL_FLAGS, 0) is None:
            del sys.modules[_GLOBAL_FLAGS]


KERAS_BACKENDS = ("tensorflow", "jax", "torch")
DEVICES_ENV = "ZOO_DATA_PARALLEL_DEVICES"  # set by `zoo train --nproc-per-node N` before Keras loads
INSTALL_HINT = {"jax": "pip install 'zoo-keras[jax]'", "torch": "pip install torch"}


def chosen_backend() -> str:
    """The Keras backend ``KERAS_BACKEND`` asks for (``tensorflow`` when unset); a usage error for any other."""
    name = os.environ.get("KERAS_BACKEND", "").strip() or "tensorflow"
    if name not in KERAS_BACKENDS:
        raise UsageError(f"KERAS_BACKEND={name} is not a Keras backend zoo-keras runs on; "
                         f"set it (or --keras-backend) to {', '.join(KERAS_BACKENDS)}")
    return name


def _import_keras() -> ModuleType:
    name = chosen_backend()
    if name != "tensorflow" and importlib.util.find_spec(name) is None:
        raise UsageError(f"KERAS_BACKEND={name} but {name} is not installed; {INSTALL_HINT[name]}, "
                         "or choose another --keras-backend")
    with _quiet_stderr(), _tensorflow_rtld_local():
        import keras

        if keras.backend.backend() == "jax":
            import jax

            use_compile_cache(jax)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if not _debug():
                # Retracing notices (one per model built in a process) are noise in a CLI.
                tf.get_logger().setLevel(logging.ERROR)

            gpus = tf.config.list_physical_devices("GPU")
            for gpu in gpus:
                with contextlib.suppress(RuntimeError):  # already initialised: too late, harmless
                    tf.config.experimental.set_memory_growth(gpu, True)
            if not gpus:
                _split_cpu(tf)
    return keras


def _split_cpu(tf: ModuleType) -> None:
    """With ``--nproc-per-node N`` on a machine without GPUs, show TensorFlow the CPU as N logical devices, so
    that ``MirroredStrategy`` runs N replicas (which share the CPU's thread pools). Only possible before
    TensorFlow initialises its runtime, which is why it happens here."""
    text = os.environ.get(DEVICES_ENV, "").strip()
    if not text.isdecimal() or int(text) < 2:
        return
    (cpu, *_) = tf.config.list_physical_devices("CPU")
    with contextlib.suppress(RuntimeError):  # already initialised: parallel.py then says it sees one device
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(text))


keras = _import_keras()


def backend_name() -> str:
    """The Keras backend in use: ``tensorflow``, ``jax`` or ``torch``."""
    return keras.backend.backend()


def uses_tensorflow() -> bool:
    """Whether Keras runs on TensorFlow (and so may use tf.data and XLA)."""
    return backend_name() == "tensorflow"


def _gpu_names() -> list[str]:
    """Names of the GPUs the current Keras backend can see, in device order."""
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus]
    if name == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if name == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def _cpu_name() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def resolve_device(requested: str) -> str:
    """``auto``/``cpu``/``cuda``/``cuda:N`` as zoo names it: ``cpu`` or ``cuda:N``.

    On JAX and PyTorch, Keras runs on the backend's default device (the first
    GPU, else the CPU); asking for another one is refused with the way to get it.
    """
    wanted = requested.lower()
    gpus = len(_gpu_names())
    if wanted == "cpu" or (wanted == "auto" and gpus == 0):
        resolved = "cpu"
    elif wanted == "auto":
        resolved = "cuda:0"
    else:
        index = int(wanted.split(":", 1)[1]) if ":" in wanted else 0
        if index >= gpus:
            raise UsageError(
                f"--device {requested} asked for a GPU but Keras ({backend_name()} backend) sees {gpus}; "
                "use --device cpu or auto"
            )
        resolved = f"cuda:{index}"
    default = "cuda:0" if gpus else "cpu"
    if not uses_tensorflow() and resolved != default:
        raise UsageError(
            f"--device {requested}: with KERAS_BACKEND={backend_name()} zoo-keras runs on {default}; "
            "choose the GPU with CUDA_VISIBLE_DEVICES (empty for the CPU) instead"
        )
    return resolved


def keras_device(device: str) -> Any:
    """A scope placing work on zoo's ``device`` (``cpu`` or ``cuda:N``).

    Only on TensorFlow: on the other backends work already runs on the default
    device, and Keras 3.15's ``keras.device`` scope breaks layers with integer
    state (Dropout's seed) under PyTorch.
    """
    if not uses_tensorflow():
        return contextlib.nullcontext()
    import tensorflow as tf

    if tf.distribute.has_strategy():  # a MirroredStrategy places each replica's work itself
        return contextlib.nullcontext()
    if device == "cpu":
        return keras.device("cpu:0")
    return keras.device(f"gpu:{device.split(':', 1)[1]}")


def set_random_seed(seed: int) -> None:
    """``keras.utils.set_random_seed``, which also imports TensorFlow when installed: keep it quiet and local."""
    with _quiet_stderr(), _tensorflow_rtld_local():
        keras.utils.set_random_seed(seed)


def device_name(device: str) -> str:
    """Human name of ``device``: the CPU model or the GPU's name."""
    if device == "cpu":
        return _cpu_name()
    return _gpu_names()[int(device.split(":", 1)[1])]


def device_label(device: str) -> str:
    """``cpu`` or ``cuda:0 (NVIDIA H200)``, as zoo-torch labels devices in results."""
    return device if device == "cpu" else f"{device} ({device_name(device)})"


ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false"  # as zoo compare --jobs sets it for one-thread workers


def threads() -> int:
    """Threads the backend uses for one op on the CPU: TensorFlow's setting, else its ``TF_NUM_INTRAOP_THREADS``;
    PyTorch's; on JAX one where XLA's CPU ops are single-threaded (``XLA_FLAGS``); else the cores this process
    may run on."""
    name = backend_name()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    if name == "tensorflow":
        import tensorflow as tf

        variable = os.environ.get("TF_NUM_INTRAOP_THREADS", "").strip()
        from_variable = int(variable) if variable.isdecimal() else 0
        return tf.config.threading.get_intra_op_parallelism_threads() or from_variable or cores
    if name == "torch":
        import torch

        return torch.get_num_threads()
    return 1 if ONE_THREAD_XLA in os.environ.get("XLA_FLAGS", "") else cores


def onednn_state() -> str:
    """``on`` or ``off``: whether TensorFlow's CPU kernels are oneDNN's, as TensorFlow itself reports it
    (its private ``IsMklEnabled``; a TensorFlow without it gets ``TF_ENABLE_ONEDNN_OPTS`` as asked)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return "asked: " + os.environ.get(ONEDNN_ENV, "")
    return "on" if _pywrap_util_port.IsMklEnabled() else "off"


def environment(device: str) -> dict[str, str]:
    """Versions and the resolved device, for run records."""
    resolved = resolve_device(device)
    env = {
        "framework": "keras",
        "keras": keras.__version__,
        "keras_backend": backend_name(),
    }
    if uses_tensorflow():
        import tensorflow as tf

        env["tensorflow"] = tf.__version__
        env["onednn"] = onednn_state()
    elif backend_name() == "jax":
        import jax

        env["jax"] = jax.__version__
        env["compile_cache"] = compile_cache_setting()
    elif backend_name() == "torch":
        import torch

        env["torch"] = torch.__version__
    env.update(device=device_label(resolved), device_name=device_name(resolved), threads=str(threads()))
    return env
