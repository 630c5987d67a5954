"""How zoo-torch runs a run's training steps: eager, ``torch.compile``, or CUDA graphs.

Chosen once per run (per process, for a resumed run) by :func:`choose_execution`, a pure
function of the request, the device type and the number of steps to train, so the rule is
tested on any machine. ``--compile`` / ``--compile-mode`` / ``--no-compile`` decide when
given; left unset, a CUDA run long enough to pay for the capture runs in CUDA graphs
(``torch.compile(mode="reduce-overhead")``) and everything else runs eagerly, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

# torch.compile modes that capture CUDA graphs on a GPU (on a CPU they compile without graphs).
GRAPH_MODES = ("reduce-overhead", "max-autotune")
# Steps a process must train before CUDA graphs pay for their capture. An estimate from one H200
# (docs/torch.md, "Execution modes"): compiling and recording an AlexNet step costs about 20 s, and
# graphs save about 2-3 ms per launch-bound step at batch 128, so they break even near 7,000-10,000
# steps. benchmarks/gpu_session.sh measures both sides; until then this stays conservative.
CUDA_GRAPHS_MIN_STEPS = 10_000
# Steps at the start of the first epoch a process trains that the steady-state figure leaves out:
# first allocations and oneDNN/cuDNN choices (eager); the compile (torch.compile); and for CUDA
# graphs the warm-up runs, the recording and the first replays of cudagraph trees.
WARMUP_STEPS = {"eager": 3, "compiled": 3, "cuda-graphs": 6}


@dataclass(frozen=True)
class Execution:
    """The chosen way to run the training steps.

    ``name`` is what the run record and ``zoo compare`` show: ``eager``, ``compiled``
    (torch.compile without graphs) or ``cuda-graphs``; ``compile_mode`` is the
    ``torch.compile`` mode, None when eager; ``reason`` says why, in words.
    """

    name: str
    compile_mode: str | None
    reason: str

    @property
    def compiled(self) -> bool:
        """Whether the model runs under ``torch.compile``."""
        return self.compile_mode is not None

    @property
    def graphs(self) -> bool:
        """Whether the steps replay CUDA graphs (which need one fixed batch shape)."""
        return self.name == "cuda-graphs"

    @property
    def warmup_steps(self) -> int:
        """Steps left out of the first epoch's steady-state figure."""
        return WARMUP_STEPS[self.name]


def choose_execution(requested: bool | None, mode: str, device_type: str, steps: int) -> Execution:
    """The execution for a run that will train ``steps`` steps on ``device_type`` (``cpu``, ``cuda``, ...).

    ``requested`` is ``TrainConfig.compile``: True compiles in ``mode`` (graphs where the mode
    captures them and the device is CUDA), False stays eager, None lets the run's length decide:
    CUDA graphs (``reduce-overhead``) on CUDA from :data:`CUDA_GRAPHS_MIN_STEPS` steps, eager otherwise.
    """
    if requested:
        if mode in GRAPH_MODES and device_type == "cuda":
            return Execution("cuda-graphs", mode, f"--compile-mode {mode} on CUDA")
        return Execution("compiled", mode, f"--compile (mode {mode})")
    if requested is False:
        return Execution("eager", None, "--no-compile")
    if device_type != "cuda":
        return Execution("eager", None, f"CUDA graphs need a GPU; this run is on {device_type}")
    if steps < CUDA_GRAPHS_MIN_STEPS:
        return Execution("eager", None, f"{steps:,} steps are too few to amortise a CUDA-graph capture "
                                        f"(from {CUDA_GRAPHS_MIN_STEPS:,})")
    return Execution("cuda-graphs", "reduce-overhead", f"{steps:,} steps on CUDA amortise the capture")
