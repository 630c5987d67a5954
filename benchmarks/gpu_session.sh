#!/usr/bin/env bash
# One lent-GPU session's measurements, in priority order, inside a deadline (issues 4, 5, 24 and 29).
#
# Runs on the device machine (the `device` tool), in the repository root, with
#   .gpu/whl/   keras, namex, optree, platformdirs wheels (the machine has torch, timm, jax; no keras)
#   .gpu/data/  mnist/ and fashion-mnist/ (the official IDX .gz files)
# carried along (`.gpu/` is in .git/info/exclude). Prepared here with:
#   echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu/data
#   cp -r ../shared/datasets/mnist .gpu/data/; cp -r /usr/share/datasets/fashion-mnist .gpu/data/
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .gpu/whl \
#       keras==3.15.1 namex==0.1.0 optree==0.20.0 platformdirs==4.14.8
# and run through the device tool with carry [".gpu"]. Everything it measures lands under $OUT: log.txt (this script's
# whole output) and results.tar.gz (zoo bench JSON, the loop benchmark's output,
# the accuracy runs' JSON and their run store). Each step has its own timeout and
# the script skips what no longer fits before DEADLINE_S, so one failure or a
# slow compile costs one step, not the session.
#
#   bash benchmarks/gpu_session.sh            # on the device machine, OUT set
#   OUT=/tmp/o bash benchmarks/gpu_session.sh --dry   # rehearsal here: CPU, tiny sizes
#   ONLY='^acc-' ... # only the steps whose name matches this regex (a second call, say)
set -u
START=$(date +%s)
DEADLINE_S=${DEADLINE_S:-530}
DRY=${1:-}
W=/tmp/zoo_gpu
rm -rf "$W" && mkdir -p "$W/bench" "$W/acc" "$W/home" "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1

left() { echo $((DEADLINE_S - ($(date +%s) - START))); }

# step NAME MAX_SECONDS MIN_SECONDS command...: run unless fewer than MIN_SECONDS remain.
step() {
    local name=$1 max=$2 min=$3; shift 3
    if [[ -n "${ONLY:-}" && ! "$name" =~ $ONLY ]]; then return; fi
    local remaining; remaining=$(left)
    if (( remaining < min )); then echo "=== $name: SKIPPED ($remaining s left)"; return; fi
    (( max > remaining - 5 )) && max=$((remaining - 5))
    echo "=== $name (limit ${max}s, ${remaining}s left) $(date +%T)"
    local t0; t0=$(date +%s)
    timeout "$max" bash -c '"$@"' _ "$@"; local rc=$?
    echo "=== $name: rc=$rc in $(( $(date +%s) - t0 ))s"
    pack
}

# What comes back, refreshed after every step so that a killed command still returns what it finished.
# Checkpoints (about 100 MB each) and resumable states stay behind; their JSON sidecars come back.
pack() {
    tar -czf "$OUT/results.tar.gz.part" -C "$W" --exclude='*.safetensors' --exclude='*.keras' --exclude=state \
        bench acc home && mv "$OUT/results.tar.gz.part" "$OUT/results.tar.gz"
}

if [[ "$DRY" != "--dry" ]]; then
    python3 -m pip install -q --upgrade --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl \
        . plugins/zoo-torch plugins/zoo-keras || exit 1
    export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
    export DEV=cuda BIG=1024 STEPS=40 LOOP_STEPS=400 LRN_BATCH=256 LRN_PRECISION=bf16 TRAIN_EXTRA="--save-every 1000"
    export EFF_LIMIT=20000 EFF_TORCH=alexnet-torch-bn,alexnet-torch-small,alexnet-torch-res,alexnet-torch \
        EFF_KERAS=alexnet-keras-bn,alexnet-keras-small,alexnet-keras-res,alexnet-keras GRAPH_LIMIT=60000 \
        CMP_PATTERN='alexnet-*' CMP_ARGS="--dataset mnist --epochs 1" GRID_ARGS="" \
        GRID_TORCH=alexnet-torch-small GRID_KERAS=alexnet-keras-small
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv
else
    export PATH=$PWD/.venv/bin:$PATH
    export DEV=cpu BIG=8 STEPS=2 LOOP_STEPS=2 LRN_BATCH=2 LRN_PRECISION=fp32 TRAIN_EXTRA="--epochs 1 --limit 256 --limit-test 256 --save-every 1000"
    export EFF_LIMIT=600 EFF_TORCH=alexnet-torch-res EFF_KERAS=alexnet-keras-res GRAPH_LIMIT=300 \
        CMP_PATTERN='alexnet-*-res' CMP_ARGS="--dataset fashion-mnist --epochs 1 --limit 256 --limit-test 256 --bench-steps 2" \
        GRID_ARGS="--limit 256 --limit-test 256" GRID_TORCH=lenet5-torch GRID_KERAS=lenet5-keras
fi
export W ZOO_HOME=$W/home ZOO_DATA_DIR=$PWD/.gpu/data/fashion-mnist PYTHONUNBUFFERED=1
export MNIST_DIR=$PWD/.gpu/data/mnist
python3 -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"

bench() {  # bench NAME zoo-bench-args...: one zoo bench JSON under $W/bench
    local name=$1; shift
    zoo bench "$@" --device "$DEV" --steps "$STEPS" -f json --output "$W/bench/$name.json"
}
acc() {  # acc TAG MODEL DATASET zoo-train-options...: one full-split run, JSON and run record under $W/acc
    local tag=$1 model=$2 dataset=$3; shift 3
    # shellcheck disable=SC2086  # TRAIN_EXTRA is a word list
    python3 benchmarks/bench_default_recipe.py --mnist-dir "$MNIST_DIR" --out "$W/acc" --models "$model" \
        --datasets "$dataset" --tag "$tag" -- "$@" $TRAIN_EXTRA
}
export -f bench acc

# 24. Issue 24 (docs/benchmarks.md, "Loop efficiency"): steady-state training against the bare step.
# 24a. The CUDA-graph path first: one compiled graph for full batches, the short last batch and validation eager.
step graphs-test 120 45 python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_torch_backend.py -k cuda_graphs_see_one
# 24b. Loop efficiency on 20,000 Fashion-MNIST images, batch 128 (goal on a GPU: >= 0.85 for every variant), eager
#      (a 1-epoch run is below CUDA_GRAPHS_MIN_STEPS), then forced into CUDA graphs; Keras on JAX the same way.
step loop-eff-torch 240 60 bash -c 'python3 benchmarks/bench_loop_efficiency.py --device "$DEV" --models "$EFF_TORCH" \
    --limit "$EFF_LIMIT" --bench-steps "$STEPS" | tee "$W/bench/loop-eff-torch.txt"'
step loop-eff-keras-jax 240 60 env KERAS_BACKEND=jax bash -c 'python3 benchmarks/bench_loop_efficiency.py \
    --device "$DEV" --models "$EFF_KERAS" --keras-backends jax --limit "$EFF_LIMIT" --bench-steps "$STEPS" \
    | tee "$W/bench/loop-eff-keras-jax.txt"'
# 24c. Where CUDA graphs start to pay (zoo_torch.execution.CUDA_GRAPHS_MIN_STEPS, an estimate until then): the same
#      3-epoch run eager and in graphs; compile_seconds and the steady figures are in the runs' records
#      (zoo runs show ID -f json, in home/), the crossover = extra compile seconds / seconds saved per step.
step graphs-vs-eager 240 90 bash -c 'for mode in --no-compile "--compile-mode reduce-overhead"; do
    zoo train alexnet-torch-bn --dataset fashion-mnist --limit "$GRAPH_LIMIT" --limit-test 1000 --epochs 3 \
        --image-size 28 --device "$DEV" --save-every 1000 $mode -f json | tee -a "$W/bench/graphs-vs-eager.json"
    zoo runs show last -f json > "$W/bench/graphs-vs-eager-$(zoo runs list -f json | python3 -c \
        "import json,sys; print(json.load(sys.stdin)[-1][\"id\"])").json"; done'
# 24d. The whole zoo compare 'alexnet-*' --dataset mnist --epochs 1 (goal on one H200: <= 60 s; 150+ s before),
#      with its wall seconds per phase; Keras on JAX. Cold: its own empty cache, so that no program the steps
#      above compiled is loaded from JAX's compilation cache; then the stored runs reused.
cmp_env() { ZOO_DATA_DIR=$MNIST_DIR; [[ $CMP_ARGS == *fashion* ]] && ZOO_DATA_DIR=$PWD/.gpu/data/fashion-mnist
    export ZOO_DATA_DIR ZOO_HOME=$W/home-compare ZOO_CACHE_DIR=$W/cache-compare KERAS_BACKEND=jax; }
export -f cmp_env
step compare-alexnet 300 120 bash -c 'cmp_env; t0=$(date +%s.%N)
    zoo compare $CMP_PATTERN $CMP_ARGS --device "$DEV" --timings -f json --output "$W/bench/compare-alexnet.json"
    echo "zoo compare wall: $(python3 -c "import time; print(round(time.time() - $t0, 1))") s"
    zoo compare $CMP_PATTERN $CMP_ARGS --device "$DEV" --timings'
# 24e. The same compare trained again with the compilation cache the cold one filled (docs/keras.md).
step compare-alexnet-warm 240 90 bash -c 'cmp_env; t0=$(date +%s.%N)
    zoo compare $CMP_PATTERN $CMP_ARGS --device "$DEV" --rerun --timings -f json \
        --output "$W/bench/compare-alexnet-warm.json"
    echo "zoo compare --rerun, warm cache, wall: $(python3 -c "import time; print(round(time.time() - $t0, 1))") s"'
# 29. Issue 29 (docs/benchmarks.md, "The grid with two workers side by side"): the fan-out on the one GPU, four
#     workers on cuda:0 (--jobs 4) against one (--jobs 1), four seeds of a small model; zoo-torch, then Keras on
#     JAX (whose workers must not each reserve 75% of the GPU: zoo.grid.placement). The --jobs 4 rows are flagged
#     contended; their steady img/s against --jobs 1's says what sharing the GPU does to the figures.
step grid-gpu-torch 200 90 python3 benchmarks/bench_grid_scaling.py --jobs 4 --threads 4 --model "$GRID_TORCH" \
    --seeds 0,1,2,3 --rounds 1 -- --device "$DEV" $GRID_ARGS
step grid-gpu-keras-jax 240 120 env KERAS_BACKEND=jax python3 benchmarks/bench_grid_scaling.py --jobs 4 --threads 4 \
    --model "$GRID_KERAS" --seeds 0,1,2,3 --rounds 1 -- --device "$DEV" $GRID_ARGS

# 0. What the last lease left open, first (figures so far in docs/benchmarks.md).
# 0a. Classic AlexNet with zoo's LocalResponseNorm (hand-written backward): the layer and the model against
#     torch.nn.LocalResponseNorm in one run, then zoo bench eager and compiled (goal: >= 50k img/s at 227 px).
step lrn-cuda 120 45 python3 benchmarks/bench_lrn.py --backends torch --device "$DEV" --precision "$LRN_PRECISION" \
    --layer-batch "$LRN_BATCH" --batch "$LRN_BATCH" --rounds 3 --steps "$STEPS" --model-steps "$STEPS"
step classic-bf16-lrn 60 20 bench classic-bf16-lrn alexnet-torch --batch-size 256 --precision bf16
step classic-bf16-compile 120 60 bench classic-bf16-compile alexnet-torch --batch-size 256 --precision bf16 --compile
# 0b. CUDA graphs (torch.compile mode reduce-overhead): the launch-bound steps (goals: small >= 150k img/s,
#     zoo's loop >= 3x the DataLoader tutorial's; zoo compiled and scored on its second epoch).
#     TORCH_LOGS=perf_hints puts any "skipping cudagraphs due to ..." (and its reason) in the log.
step small-bf16-graphs 180 60 env TORCH_LOGS=perf_hints bash -c 'bench "$@"' _ small-bf16-graphs \
    alexnet-torch-small --input 3x32x32 --batch-size "$BIG" --precision bf16 --compile-mode reduce-overhead
step loop-ratio-graphs 300 90 env TORCH_LOGS=perf_hints python3 benchmarks/bench_torch_loop.py --device "$DEV" \
    --rounds 2 --steps-bn "$LOOP_STEPS" --steps-small "$LOOP_STEPS" --compile-mode reduce-overhead
# 0c. alexnet-*-bn's default recipe: 30 cosine epochs at 56 px, label smoothing 0.1, the datasets' shift (zoo-torch on
#     the CPU: Fashion-MNIST 93.01 / 93.02 / 93.29%, MNIST 99.66 / 99.57 / 99.58%, seeds 0-2). Still open: zoo-keras
#     under it on JAX (its parity is measured on TensorFlow, CPU: MNIST 99.59%, Fashion-MNIST 93.37%).
step acc-keras-jax-mnist-default 400 90 env KERAS_BACKEND=jax bash -c 'acc "$@"' _ _jax_default56 alexnet-keras-bn \
    mnist
step acc-keras-jax-fashion-default 400 90 env KERAS_BACKEND=jax bash -c 'acc "$@"' _ _jax_default56 alexnet-keras-bn \
    fashion-mnist
step keras-jax-test 120 60 python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_keras_backend.py -k other_keras_backends

# Below: what the first lease measured (docs/benchmarks.md), rerun with the current tree while time is left.
# 1. Throughput, eager (issue 4: alexnet-torch-small >= 150k img/s at 32 px, alexnet-torch >= 50k at 224 px).
step small-fp32 60 20 bench small-fp32 alexnet-torch-small --input 3x32x32 --batch-size "$BIG"
step small-bf16 60 20 bench small-bf16 alexnet-torch-small --input 3x32x32 --batch-size "$BIG" --precision bf16
step classic-bf16 60 20 bench classic-bf16 alexnet-torch --batch-size 256 --precision bf16
step classic-fp32 60 20 bench classic-fp32 alexnet-torch --batch-size 256
step bn-res-bf16 60 20 bench bn-res-bf16 alexnet-torch-bn alexnet-torch-res --input 3x32x32 \
    --batch-size "$BIG" --precision bf16
# 2. zoo's loop against the DataLoader tutorial loop (goal on a GPU: >= 3x).
step loop-ratio 90 40 python3 benchmarks/bench_torch_loop.py --device "$DEV" --rounds 3 \
    --steps-bn "$LOOP_STEPS" --steps-small "$LOOP_STEPS"
# 3. torch.compile, bf16; a bigger batch.
step small-bf16-compile 150 60 bench small-bf16-compile alexnet-torch-small --input 3x32x32 \
    --batch-size "$BIG" --precision bf16 --compile
step small-bf16-b2048 40 20 bench small-bf16-b2048 alexnet-torch-small --input 3x32x32 \
    --batch-size $((BIG * 2)) --precision bf16
# 4. Keras 3 on JAX (no TensorFlow there): XLA always, mixed_bfloat16 for bf16 (issue 5).
step keras-jax-small-bf16 90 40 env KERAS_BACKEND=jax bash -c 'bench "$@"' _ keras-jax-small-bf16 \
    alexnet-keras-small --input 3x32x32 --batch-size "$BIG" --precision bf16
step keras-jax-small-fp32 60 30 env KERAS_BACKEND=jax bash -c 'bench "$@"' _ keras-jax-small-fp32 \
    alexnet-keras-small --input 3x32x32 --batch-size "$BIG"

echo "=== done in $(( $(date +%s) - START ))s"
