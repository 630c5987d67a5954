# zoo: set up, run the main job, run the tests. Everything installs from this file.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.zoo-installed
# Setup says only what went wrong: -qq hides pip's warnings about this machine's index locations, and
# PYTHONWARNINGS=ignore setuptools' "editable installation" notice (about 90 lines before the demo's first).
PIP := PYTHONWARNINGS=ignore $(BIN)/pip install -qq --no-warn-script-location --disable-pip-version-check
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: setup data demo test lint bench clean

setup: $(STAMP) data

# torch and torchvision are pinned to the releases this machine's pip serves from local disk.
# zoo-keras[jax] brings JAX (CPU), so Keras on JAX and on PyTorch are tested too; zoo[ray] brings Ray
# for zoo compare --executor ray (tested on a local cluster); zoo[onnx] brings zoo export's checks.
$(STAMP): pyproject.toml plugins/zoo-torch/pyproject.toml plugins/zoo-keras/pyproject.toml plugins/zoo-timm/pyproject.toml \
	  examples/zoo-lenet/pyproject.toml
	@echo "setting up $(VENV) (a few minutes the first time)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip
	@$(PIP) "torch==2.14.1" "torchvision==0.29.1"
	@$(PIP) -e '.[test,onnx,ray]' -e plugins/zoo-torch -e plugins/zoo-timm -e 'plugins/zoo-keras[jax]' \
	  -e examples/zoo-lenet
	@touch $@

# Real Fashion-MNIST from Debian (the main job and the tests read it offline).
data: $(FASHION)
$(FASHION):
	@if command -v apt-get >/dev/null; then \
	  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)); \
	else echo "install Debian's dataset-fashion-mnist or pass --data-dir" >&2; fi

# The main job: every AlexNet variant that takes 28x28 images, both backends, on real
# Fashion-MNIST (offline), a few minutes on a 2-core CPU; table on stdout, figure in out/.
DEMO_MODELS := 'alexnet-*-bn' 'alexnet-*-res' 'alexnet-*-small'
DEMO_RECIPE := --dataset fashion-mnist --epochs 2 --limit 3000 --limit-test 2000 --batch-size 32 \
	--bench-steps 10 --bench-warmup 3

demo: setup
	$(BIN)/zoo compare $(DEMO_MODELS) $(DEMO_RECIPE) --plot out/compare.png

# pytest's exit code 5 (no tests collected) is a failure too.
test: setup lint
	$(BIN)/pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check zoo plugins tests benchmarks examples docs cli.py
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) build *.egg-info
