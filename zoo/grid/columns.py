"""The columns of ``zoo compare`` and ``zoo bench`` (docs/benchmarks.md, "zoo compare's figures").

Kept apart from the code that fills them, so that the CLI can name them without importing it.
"""

from __future__ import annotations

# On a terminal: what distinguishes the rows; device, precision and batch are in the header above.
# Two tables, each within 100 columns: accuracy and size, then speed.
COMPARE_TABLE_COLUMNS = ["model", "status", "top1", "top5", "param_count", "gmacs", "input_size", "source"]
COMPARE_SPEED_COLUMNS = [
    "model", "execution", "train_steady_samples_per_sec", "train_bare_samples_per_sec", "loop_efficiency",
    "compile_s", "infer_samples_per_sec",
]
# Where each model's wall time went in this zoo compare (seconds; summed over seeds); wall_s is their total.
WALL_PHASES = ("start", "data", "compile", "train", "eval", "bench", "other")
WALL_COLUMNS = [f"wall_{phase}_s" for phase in WALL_PHASES]
COMPARE_COLUMNS = [
    "model", "backend", "variant", "status", "param_count", "gmacs", "input_size", "top1", "top5", "execution",
    "train_steady_samples_per_sec", "train_bare_samples_per_sec", "loop_efficiency", "compile_s",
    "infer_samples_per_sec", "batch_size", "precision", "device", "train_s", "wall_s", *WALL_COLUMNS, "source",
]
BENCH_COLUMNS = [
    "model", "status", "infer_samples_per_sec", "infer_step_time", "infer_batch_size", "infer_img_size",
    "infer_gmacs", "train_samples_per_sec", "train_step_time", "train_batch_size", "train_img_size",
    "param_count", "precision", "device", "note",
]
