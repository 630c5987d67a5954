# zoo: set up, run the main job, run the tests. Everything installs from this file.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.zoo-installed
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: setup data demo test lint bench clean

setup: $(STAMP) data

$(STAMP): pyproject.toml plugins/zoo-torch/pyproject.toml plugins/zoo-keras/pyproject.toml examples/zoo-lenet/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch and torchvision are pinned to the releases this machine's pip serves from local disk.
	$(BIN)/pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install --quiet -e '.[test]' -e plugins/zoo-torch -e plugins/zoo-keras -e examples/zoo-lenet
	touch $@

# Real Fashion-MNIST from Debian (the main job and the tests read it offline).
data: $(FASHION)
$(FASHION):
	@if command -v apt-get >/dev/null; then \
	  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)); \
	else echo "install Debian's dataset-fashion-mnist or pass --data-dir" >&2; fi

demo: setup
	$(BIN)/zoo list

test: setup
	$(BIN)/ruff check zoo plugins tests benchmarks cli.py
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check zoo plugins tests benchmarks cli.py

clean:
	rm -rf $(VENV) build *.egg-info
