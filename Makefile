# mmacs — set-up, tests and demo on a CPU machine with PyPI. Every target
# creates .venv and installs what it needs on first use (a second call
# skips what is done). The versions are the tested set of
# requirements/constraints.txt; setup.cfg only states ranges.
#
# TORCH_INDEX: an index searched beside PyPI for torch, by default
# PyTorch's CPU wheel index, whose `2.13.0+cpu` pip prefers to PyPI's
# `2.13.0` (on Linux x86-64 a CUDA build, several GB of nvidia-* wheels).
# Where that index cannot be reached pip warns and takes PyPI's build (or
# a machine's own pip configuration); `make install TORCH_INDEX=` skips it.
PYTHON ?= python3
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
CONSTRAINTS := requirements/constraints.txt
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -c $(CONSTRAINTS)
DEPS := $(VENV)/.mmacs-deps
DEPLOY := $(VENV)/.mmacs-deploy
pinned = $(shell sed -n 's/^$(1)==//p' $(CONSTRAINTS))

.PHONY: install deploy test demo lint clean

install: $(DEPS)

$(DEPS): setup.cfg $(CONSTRAINTS) Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade 'pip>=23'
	# 1. torch first: $(if $(TORCH_INDEX),the CPU build of $(TORCH_INDEX) where reachable; else )PyPI's
	$(BIN)/pip install $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
	  torch==$(call pinned,torch)
	# 2. build tools: mmcv's setup.py needs pkg_resources (setuptools < 82)
	$(PIP) setuptools wheel ninja
	# 3. mmcv with its compiled ops, built against the torch installed above
	MMCV_WITH_OPS=1 MAX_JOBS=2 $(PIP) --no-build-isolation mmcv
	@$(BIN)/python -c 'import mmcv._ext' || { \
	  echo 'ERROR: mmcv was installed without its compiled ops (mmcv._ext).'; \
	  echo 'Reinstall it with torch present in the build environment:'; \
	  echo '  $(BIN)/pip uninstall -y mmcv && MMCV_WITH_OPS=1 $(PIP) --no-cache-dir --no-build-isolation mmcv'; \
	  exit 1; }
	# 4. the rest, then mmacs itself (its ranges hold the stack above)
	$(PIP) mmengine mmdet pycocotools matplotlib pytest
	$(PIP) --no-build-isolation -e .
	touch $@

# The `deploy` extra of setup.cfg, at the tested versions (ONNX export; its
# tests skip without it).
deploy: $(DEPLOY)

$(DEPLOY): $(DEPS)
	$(PIP) onnx onnxruntime
	touch $@

test: $(DEPS) $(DEPLOY)
	$(BIN)/python -m pytest tests -q

demo: $(DEPS)
	$(BIN)/python tools/demo.py --work-dir work_dirs/demo

lint: $(DEPS)
	$(BIN)/pip install -q flake8 isort==5.13.2 yapf
	$(BIN)/python -m flake8 mmacs tools tests
	$(BIN)/python -m isort --check-only --diff mmacs tools tests

clean:
	rm -rf work_dirs .pytest_cache
