"""The columns of ``zoo compare`` and ``zoo bench`` (docs/benchmarks.md, "zoo compare's figures").

Kept apart from the code that fills them, so that the CLI can name them without importing it.
"""

from __future__ import annotations

# On a terminal: what distinguishes the rows; device, precision and batch are in the header above.
# Two tables, each within 100 columns: accuracy and size, then speed.
COMPARE_TABLE_COLUMNS = ["model", "status", "top1", "top5", "param_count", "gmacs", "input_size", "source"]
# top1 and top5 on a terminal and in Markdown: "mean ± std" over seeds, from top1_pct and top1_pct_std.
COMPARE_SPEED_COLUMNS = [
    "model", "execution", "train_steady_samples_per_sec", "train_bare_samples_per_sec", "loop_efficiency",
    "compile_s", "infer_samples_per_sec",
]
# Where each model's wall time went in this zoo compare (seconds; summed over seeds); wall_s is their total.
WALL_PHASES = ("start", "data", "compile", "train", "eval", "bench", "other")
WALL_COLUMNS = [f"wall_{phase}_s" for phase in WALL_PHASES]
COMPARE_COLUMNS = [
    "model", "backend", "variant", "status", "param_count", "gmacs", "input_size", "native_input_size",
    "top1_pct", "top1_pct_std", "top5_pct", "top5_pct_std", "execution",
    "train_steady_samples_per_sec", "train_bare_samples_per_sec", "loop_efficiency", "compile_s",
    "compile_cache_hits_pct", "infer_samples_per_sec", "batch_size", "precision", "device", "train_s", "wall_s",
    *WALL_COLUMNS, "source",
]
BENCH_COLUMNS = [
    "model", "status", "infer_samples_per_sec", "infer_step_time", "infer_batch_size", "infer_img_size",
    "infer_gmacs", "train_samples_per_sec", "train_step_time", "train_batch_size", "train_img_size",
    "param_count", "precision", "device", "note",
    # after timm's columns: the spread over the timed steps (img/s of the slowest and fastest step, IQR in %)
    "input_size", "infer_samples_per_sec_min", "infer_samples_per_sec_max", "infer_iqr_pct",
    "train_samples_per_sec_min", "train_samples_per_sec_max", "train_iqr_pct",
]
# On a terminal: device, precision, batch and classes are in the line above the table, notes below it.
BENCH_TABLE_COLUMNS = [
    "model", "status", "input_size", "infer_samples_per_sec", "infer_iqr_pct", "train_samples_per_sec",
    "train_iqr_pct", "param_count", "infer_gmacs",
]
